"""Imports: bringing candidates, jobs and history in from other systems."""
