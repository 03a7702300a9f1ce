"""Interview scheduling across time zones: availability, slot finding, booking, invitations."""
