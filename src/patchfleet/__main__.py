"""``python -m patchfleet``."""

from patchfleet.cli import main

main()
