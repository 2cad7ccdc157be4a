"""The one exception type for bad input.

Every reader raises :class:`InputError` for malformed input; the CLI turns it into
``error: <path>[:<line>]: <what>`` on stderr and exit code 2 (DESIGN.md §3, "Bad input").
"""

from __future__ import annotations


class InputError(Exception):
    """An input file (or argument) could not be read or is invalid."""

    def __init__(self, path: str | None, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.message = message

    def where(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


class LimitExceeded(InputError):
    """An input exceeds a documented resource limit (docs/limits.md)."""
