"""Live assist: incremental transcription and segmentation of a call in progress."""
