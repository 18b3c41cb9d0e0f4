"""patchfleet.server.api."""
