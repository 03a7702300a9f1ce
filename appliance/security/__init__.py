"""Security: keys, passphrase, sealing, accounts, authentication and permissions."""
