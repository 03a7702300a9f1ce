"""Coding rounds: the sandbox that runs a candidate's code and the test runner on top of it."""
