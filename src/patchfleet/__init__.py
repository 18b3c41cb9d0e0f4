"""patchfleet: patch management for fleets of endpoints (server, agent, CLI)."""

__version__ = "0.1.0"
