"""patchfleet.agent.managers."""
