"""Text inputs: one bounded reader that decodes a file as UTF-8 text (binary junk, NUL bytes and
invalid UTF-8 become `error: path:line: ...` with the line where it starts), and a line index for
turning offsets into line numbers."""

from __future__ import annotations

import bisect
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.inputs import read_capped


def decode_text(raw: bytes, name: str, *, strict: bool = True, expected: str = "text") -> str:
    """``raw`` as text. NUL bytes are refused (a binary file given by mistake); invalid UTF-8 is
    refused when ``strict``, else replaced (logs and dumps where a stray byte is harmless)."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise InputError(name, f"contains NUL bytes: binary data, not {expected}", raw.count(b"\n", 0, nul) + 1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not strict:
            return raw.decode("utf-8", errors="replace")
        raise InputError(name, f"not UTF-8 {expected} (binary file?)", raw.count(b"\n", 0, exc.start) + 1) from None


def read_text(path: str | Path, limit: int, what: str, *, strict: bool = True, expected: str = "text") -> str:
    """Read and decode a text input within its size limit (`hvcheck docs limits`)."""
    return decode_text(read_capped(path, limit, what), str(path), strict=strict, expected=expected)


class LineIndex:
    """Offset → 1-based line number in O(log n), built once per text."""

    def __init__(self, text: str | bytes) -> None:
        newline = "\n" if isinstance(text, str) else b"\n"
        starts = [0]
        pos = text.find(newline)  # type: ignore[arg-type]
        while pos >= 0:
            starts.append(pos + 1)
            pos = text.find(newline, pos + 1)  # type: ignore[arg-type]
        self._starts = starts

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    def column_of(self, offset: int) -> int:
        return offset - self._starts[self.line_of(offset) - 1] + 1

    @property
    def lines(self) -> int:
        return len(self._starts)
