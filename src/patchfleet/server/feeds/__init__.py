"""Vulnerability feeds: a pure parser per format plus one loader into the database.

Parsers (``osv``, ``oval``, ``nvd``, ``kev``, ``epss``) read bytes or a binary stream
and yield ``core.advisories`` values; they never touch the database.  ``load`` stores
what a parser yields in one transaction, so a bad file changes nothing.
"""
