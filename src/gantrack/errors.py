"""Errors a user can fix: pipeline scripts print their message alone, without a traceback."""


class GantrackError(Exception):
    """Base class: the message says what is wrong and how to fix it."""
