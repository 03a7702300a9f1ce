"""The JSON API's request parsing and response shaping."""
