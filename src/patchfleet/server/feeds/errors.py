"""The one error every feed parser raises for a file it cannot accept."""

from __future__ import annotations

from patchfleet.core.errors import InvalidInputError


class FeedError(InvalidInputError):
    """A feed file is malformed, truncated, hostile or of the wrong shape.

    The message names the feed kind, where in the file (a record id, JSON path,
    line or XML element) and what is wrong, e.g.
    ``osv: DSA-5000-1: affected[0].ranges[0].events must be a list``.
    """

    def __init__(self, feed: str, where: str, reason: str) -> None:
        """Builds ``<feed>: <where>: <reason>`` (``where`` may be empty)."""
        text = f"{feed}: {where}: {reason}" if where else f"{feed}: {reason}"
        super().__init__(text)
        self.feed = feed
        self.where = where
        self.reason = reason
