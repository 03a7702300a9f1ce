"""Analysis: the pipeline, its steps, scoring, the worker, segmentation and reports."""
