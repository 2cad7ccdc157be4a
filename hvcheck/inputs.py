"""Reading an input file within its size limit: the one place that turns an unreadable or
oversized file into `error: path: ...` (exit 2) for every reader."""

from __future__ import annotations

from pathlib import Path

from hvcheck.errors import InputError, LimitExceeded

# Every file read in this process (for the run's post-processing: inline suppressions are looked
# for in the inputs that were actually read).
_READ: dict[str, None] = {}


def files_read() -> list[str]:
    return list(_READ)


def read_capped(path: str | Path, limit: int, what: str) -> bytes:
    """The file's bytes; LimitExceeded naming ``limit`` when it is larger (read at most limit + 1
    bytes, so a huge file, a FIFO or a /proc file whose size lies costs bounded memory)."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise LimitExceeded(name, f"file exceeds the {limit}-byte limit for {what} (`hvcheck docs limits`)")
    _READ[name] = None
    return data
