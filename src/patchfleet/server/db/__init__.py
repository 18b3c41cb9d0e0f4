"""patchfleet.server.db."""
