"""Hiring: requisitions, interviews, candidates, candidate links, reviews and decisions."""
