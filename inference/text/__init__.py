"""Text encoders (sentence embeddings) for scoring."""
