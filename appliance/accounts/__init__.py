"""Staff accounts: creating and changing them, passwords, lockout, API tokens, sign-in."""
