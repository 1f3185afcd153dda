"""Errors a user can fix: pipeline scripts print their message alone, without a traceback."""


class GantrackError(Exception):
    """Base class: the message says what is wrong and how to fix it."""


class DatasetNotFoundError(GantrackError, FileNotFoundError):
    """No place in a dataset's list held it; the message lists each place and the fix."""


class CorruptDatasetError(GantrackError, ValueError):
    """A dataset file exists but cannot be read or has the wrong shape; names the file."""


class UnreadableImageError(CorruptDatasetError):
    """One image file of an image folder cannot be decoded or converted.

    ``path`` and ``reason`` are kept apart so that ``data.on_unreadable: skip`` can list
    the file in the data card instead of stopping.
    """

    def __init__(self, path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"{path}: cannot be read as an image ({reason}). Fix or remove the file, or set "
            "data.on_unreadable: skip to leave unreadable files out (each is listed by name "
            "in the data card)"
        )
