"""patchfleet.server."""
