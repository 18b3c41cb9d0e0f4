"""patchfleet.server.services."""
