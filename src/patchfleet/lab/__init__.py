"""The demo and test lab: signed apt and rpm repos on loopback, endpoint directories.

``patchfleet demo`` and the test suite's lab fixtures share this one implementation.
The product's core, protocol, agent and server never import it (README.md).
"""
