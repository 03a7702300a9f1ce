"""Resumes: text extraction, profiles, skills and the match against a job."""
