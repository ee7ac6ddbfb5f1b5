"""Errors raised when a data set cannot be found or its files cannot be read."""

from __future__ import annotations


class DataUnavailableError(RuntimeError):
    """The data set is not on this machine and could not be fetched.

    The message says where it was looked for, what was tried, and how to get it.
    """


class DataFormatError(DataUnavailableError, ValueError):
    """A data file exists but is corrupt, truncated or not in the expected format.

    A :class:`DataUnavailableError` (the data is not usable, so the command line reports it as a
    clean error) and a :class:`ValueError` (the bytes are wrong). The message names the file.
    """
