"""patchfleet.agent."""
