"""Shared helpers of the test suite (no tests here): worlds, media, servers, the browser.

Test modules import what they share from here, never from one another
(tests/test_suite_layout.py checks it).
"""
