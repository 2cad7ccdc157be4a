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
        text = f"{where}: {self.message}" if where else self.message
        return one_line(text)


def one_line(text: str, limit: int = 400) -> str:
    """Make a message safe for a one-line report: whitespace runs become one space, other control
    characters become \\xNN escapes (they come from the input: a file's bytes, a parser's echo
    of them), and an overlong message is cut."""
    out: list[str] = []
    for ch in text:
        if ch in "\n\r\t\v\f":
            if out and out[-1] != " ":
                out.append(" ")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
    line = " ".join("".join(out).split(" ")).strip()
    while "  " in line:
        line = line.replace("  ", " ")
    return line if len(line) <= limit else line[: limit - 3] + "..."


class LimitExceeded(InputError):
    """An input exceeds a documented resource limit (`hvcheck docs limits`)."""
