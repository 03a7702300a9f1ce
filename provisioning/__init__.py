"""First boot and key management: data directory, sealed keys, first admin, rekeying."""
