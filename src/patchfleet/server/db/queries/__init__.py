"""Per-noun data access: rows <-> core values. Functions never commit."""
