"""patchfleet.core."""
