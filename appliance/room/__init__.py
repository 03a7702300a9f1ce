"""The candidate interview room: plan, consent, takes and follow-up questions."""
