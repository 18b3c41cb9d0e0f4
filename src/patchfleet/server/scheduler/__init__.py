"""patchfleet.server.scheduler."""
