"""Use cases. Services flush, never commit: the caller owns the unit of work."""
