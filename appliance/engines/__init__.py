"""The inference engines of this process: backends loaded from verified model packs, once."""
