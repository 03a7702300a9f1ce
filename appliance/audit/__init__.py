"""Audit: the hash-chained audit log and the standalone bundle verifier."""
