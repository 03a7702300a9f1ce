"""Privacy: erasure, retention and the data subject's export."""
