"""Minimal text edits: replace character ranges of a file's text, never re-render it, and show
the result as a unified diff that `git apply` and `patch -p1` accept."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.inputs import read_capped

MAX_EDIT_BYTES = 32 << 20


class FixError(Exception):
    """A fix that cannot be made (the reason is shown to the user, exit 1)."""


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] (character offsets) by ``new``; ``why`` is one sentence."""

    start: int
    end: int
    new: str
    why: str = ""


@dataclass
class FileEdits:
    """All edits of one file, with the text they apply to."""

    path: Path
    original: str
    edits: list[Edit] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)

    def add(self, start: int, end: int, new: str, why: str = "") -> None:
        self.edits.append(Edit(start, end, new, why))

    def explain(self, sentence: str) -> None:
        if sentence not in self.explanations:
            self.explanations.append(sentence)

    def result(self) -> str:
        return apply_edits(self.original, self.edits, str(self.path))

    @property
    def changed(self) -> bool:
        return self.result() != self.original


def read_source(path: Path | str) -> str:
    """A file fix edits, as stored: UTF-8, line endings untranslated (a CRLF file keeps its CR,
    so the loaders' byte spans and the text agree and the result can be written back as CRLF)."""
    raw = read_capped(path, MAX_EDIT_BYTES, "files fix edits")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FixError(f"{path}: not UTF-8 text (byte {exc.start}); fix edits UTF-8 files only") from None


def uses_crlf(text: str) -> bool:
    """Most line ends of ``text`` are CRLF (Windows editors, some vendor BSPs)."""
    crlf = text.count("\r\n")
    return crlf > 0 and crlf * 2 >= text.count("\n")


def _as_crlf(new: str, before: str, after: str) -> str:
    """``new`` with CRLF line ends, as it will sit between ``before`` and ``after`` (an edit may
    start between a CR and its LF, where an editor counting lines by LF puts "end of line")."""
    lead = "\r" if before == "\r" else ""
    tail = "\n" if after == "\n" else ""
    seg = (lead + new + tail).replace("\r\n", "\n").replace("\n", "\r\n")
    return seg[len(lead):len(seg) - len(tail)]


def apply_edits(text: str, edits: list[Edit], what: str = "file") -> str:
    """Apply non-overlapping edits (insertions at the same point keep their order). In a CRLF
    file the inserted text's line ends become CRLF too."""
    crlf = uses_crlf(text)
    ordered = sorted(enumerate(edits), key=lambda ie: (ie[1].start, ie[1].end, ie[0]))
    out: list[str] = []
    pos = 0
    for _, e in ordered:
        if e.start < pos or e.end < e.start or e.end > len(text):
            raise FixError(f"{what}: internal error: overlapping edits at offset {e.start}")
        out.append(text[pos:e.start])
        out.append(_as_crlf(e.new, text[e.start - 1:e.start], text[e.end:e.end + 1]) if crlf else e.new)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def unified_diff(old: str, new: str, relpath: str, context: int = 3) -> str:
    """A `-p1` unified diff (a/ and b/ prefixes); marks a missing final newline like diff(1)."""
    if old == new:
        return ""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    lines = list(difflib.unified_diff(a, b, f"a/{relpath}", f"b/{relpath}", n=context))
    out: list[str] = []
    for line in lines:
        if line.startswith(("---", "+++")) and not line.endswith("\n"):
            line += "\n"
        if not line.endswith("\n"):
            out.append(line + "\n\\ No newline at end of file\n")
        else:
            out.append(line)
    return "".join(out)
