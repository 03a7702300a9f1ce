"""Media: the upload spool, one-shot and chunked uploads, and stored recordings."""
