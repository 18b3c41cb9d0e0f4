"""patchfleet.protocol."""
