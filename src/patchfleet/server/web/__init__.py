"""patchfleet.server.web."""
