"""Exports: signed, encrypted bundles for auditors and what goes into them."""
