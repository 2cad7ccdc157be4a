"""Reading an input file within its size limit: the one place that turns an unreadable, oversized
or never-ending file into `error: path: ...` (exit 2) for every reader.

Only regular files are read (and standard input, when the user gave it): a named pipe with no
writer blocks ``open()`` forever, a character device (/dev/zero, /dev/urandom, a tty) never
ends, a socket is not a file. The file is opened without blocking and checked with ``fstat`` on
the open descriptor, so nothing can swap the file between the check and the read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from hvcheck.errors import InputError, LimitExceeded

# Every file read in this process (for the run's post-processing: inline suppressions are looked
# for in the inputs that were actually read).
_READ: dict[str, None] = {}


def files_read() -> list[str]:
    return list(_READ)


STDIN_NAMES = ("-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0")

_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISSOCK, "a socket"), (stat.S_ISBLK, "a block device"))


def special_kind(mode: int) -> str | None:
    """What kind of non-regular file ``mode`` describes ("a directory", "a named pipe (FIFO)", ...),
    or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    for test, what in _SPECIAL:
        if test(mode):
            return what
    return "not a regular file"


def _is_stdin(name: str, st: os.stat_result) -> bool:
    """The file is what this process has as standard input (the user piped or redirected it)."""
    if name == "-":
        return True
    try:
        own = os.fstat(0)
    except OSError:
        return False
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


def refuse_special(name: str, st: os.stat_result) -> None:
    """InputError unless ``st`` is a regular file (or this process's standard input)."""
    kind = special_kind(st.st_mode)
    if kind is None or (kind != "a directory" and _is_stdin(name, st)):
        return
    if kind == "a directory":
        raise InputError(name, "is a directory, not a file")
    raise InputError(name, f"is {kind}, not a regular file (reading it could block or never end)")


def open_input(path: str | Path) -> BinaryIO:
    """Open an input for reading: a regular file, or standard input given by name. Never blocks on
    a FIFO (opened non-blocking, then checked); InputError for anything else."""
    name = str(path)
    if name == "-":
        return _stdin(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise InputError(name, "is a directory, not a file") from None
    except OSError as exc:
        try:   # a socket cannot be opened at all (ENXIO): say what it is
            refuse_special(name, os.stat(path))
        except OSError:
            pass
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        refuse_special(name, st)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _stdin(name: str) -> BinaryIO:
    import sys

    stream = sys.stdin
    buffer = getattr(stream, "buffer", None) if stream is not None else None
    if buffer is None:
        raise InputError(name, "standard input is closed: pipe the data into hvcheck or give a file")
    return buffer  # type: ignore[no-any-return]


def read_capped(path: str | Path, limit: int, what: str) -> bytes:
    """The file's bytes; LimitExceeded naming ``limit`` when it is larger (read at most limit + 1
    bytes, so a huge file or a /proc file whose size lies costs bounded memory)."""
    name = str(path)
    fh = open_input(path)
    try:
        return read_stream(fh, name, limit, what)
    finally:
        if name != "-":
            fh.close()


def read_stream(fh: BinaryIO, name: str, limit: int, what: str) -> bytes:
    """An open input's bytes within ``limit`` (see :func:`read_capped`)."""
    try:
        data = _read_upto(fh, limit + 1)
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise LimitExceeded(name, f"file exceeds the {limit}-byte limit for {what} (`hvcheck docs limits`)")
    _READ[name] = None
    return data


def read_head(path: str | Path, size: int) -> bytes | None:
    """The first ``size`` bytes of a regular file, or None when it is not one or cannot be read
    (format sniffing: the loader that claims the file reports why it is unreadable)."""
    try:
        fh = open_input(path)
    except InputError:
        return None
    with fh:
        try:
            return fh.read(size)
        except OSError:
            return None


def read_cited(path: str, size: int) -> bytes | None:
    """The first ``size`` bytes of a file a finding cites, read again after the command ran (to
    quote its lines, look for inline suppressions, fingerprint them). None for standard input (the
    command read it to its end; reading again could wait on a terminal) and for anything
    :func:`read_head` refuses: a finding may cite the FIFO or device its E001 refused, and a plain
    open() of a FIFO without a writer never returns."""
    return None if path in STDIN_NAMES else read_head(path, size)


def _read_upto(fh: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes. A regular file is read in one piece of its size (no copy); a pipe or a
    /proc file whose size says 0 in chunks until EOF or ``n``."""
    try:
        hint = os.fstat(fh.fileno()).st_size
    except (OSError, ValueError, AttributeError):
        hint = 0
    chunks: list[bytes] = []
    left = n
    first = True
    while left > 0:
        chunk = fh.read(min(left, hint + 1 if first and hint else 1 << 20))
        first = False
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
