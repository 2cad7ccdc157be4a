"""The lexical layer of DTS text, shared by the reader (:mod:`.dts`) and the editor
(:mod:`hvcheck.fix.dts`): blanks and comments, string literals, C-preprocessor lines, the end of
a property value, merge-conflict markers, and line numbers.

Everything here is linear in the text and allocates no per-character state: a 30 MB single-line
DTS is read in bounded memory (no regex repetition over alternatives, whose backtracking stack
grows with the input; line numbers counted forward from the last position asked, not from a
table of every line start).
"""

from __future__ import annotations

import re

from hvcheck.errors import InputError

# Whitespace and comments. Possessive everywhere: Python's regex engine keeps a backtracking frame
# per repetition of a plain `(?:a|b)*`, which on a 30 MB run of comments is gigabytes.
_BLANKS = re.compile(r"(?:[ \t\r\n]++|//[^\n]*+|/\*(?:[^*]++|\*(?!/))*+\*/)*+")
# A preprocessor directive at the start of a line (`# 12 "file"` line markers of preprocessed DTS too).
DIRECTIVE = re.compile(r"[ \t]*#[ \t]*(include|define|undef|if|ifdef|ifndef|else|elif|endif|error|warning|pragma"
                       r"|line|\d+)\b")
# A string literal; possessive so an escape-free run is one step, never a backtracking frame per character.
_STRING = re.compile(r'"(?:[^"\\\n]++|\\.)*+"')
_VALUE_SPECIAL = re.compile(r'[;"/{}]')
_CONFLICT = re.compile(r"^(<{7}|={7}|>{7})(?:[ \t][^\n]*)?$", re.M)


class Text:
    """One file's DTS text with line numbers on demand."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._mark_pos = 0
        self._mark_line = 1

    def line_of(self, pos: int) -> int:
        """1-based line of ``pos``. Parsers ask in increasing order, so this counts newlines from the
        previous answer (a parser looks back only a little): linear over a whole parse, constant memory."""
        pos = max(0, min(pos, len(self.text)))
        if pos >= self._mark_pos:
            line = self._mark_line + self.text.count("\n", self._mark_pos, pos)
        else:
            line = self._mark_line - self.text.count("\n", pos, self._mark_pos)
        self._mark_pos, self._mark_line = pos, line
        return line

    def fail(self, message: str, pos: int) -> InputError:
        return InputError(self.path, message, self.line_of(pos))

    def skip_blank(self, pos: int) -> int:
        """The first position at or after ``pos`` that is not whitespace or a comment."""
        m = _BLANKS.match(self.text, pos)
        end = m.end() if m is not None else pos
        if self.text.startswith("/*", end):
            raise self.fail("unterminated /* comment", end)
        return end

    def at_line_start(self, pos: int) -> bool:
        """Only spaces or tabs between the start of ``pos``'s line and ``pos``."""
        text = self.text
        i = pos
        while i > 0 and text[i - 1] in " \t":
            i -= 1
        return i == 0 or text[i - 1] == "\n"

    def directive_at(self, pos: int) -> re.Match[str] | None:
        """The preprocessor directive starting the line at ``pos`` (which is its `#`), if any."""
        if not self.at_line_start(pos):
            return None
        start = pos
        while start > 0 and self.text[start - 1] in " \t":
            start -= 1
        return DIRECTIVE.match(self.text, start)

    def directive_end(self, pos: int) -> int:
        """The end of the preprocessor line at ``pos``, following backslash continuations
        (the position of its final newline, or the end of the text)."""
        text = self.text
        while True:
            end = text.find("\n", pos)
            if end < 0:
                return len(text)
            opened = text.rfind("/*", pos, end)
            if opened >= 0 and text.find("*/", opened + 2, end) < 0:
                # a comment opened on the line continues it, as cpp strips comments first
                close = text.find("*/", opened + 2)
                if close < 0:
                    return len(text)
                pos = close + 2
                continue
            if end > 0 and text[end - 1] == "\\" or end > 1 and text[end - 1] == "\r" and text[end - 2] == "\\":
                pos = end + 1
                continue
            return end

    def directive_text(self, pos: int, end: int) -> str:
        """A preprocessor line with its continuations joined."""
        return re.sub(r"\\\r?\n", "", self.text[pos:end])

    def string_end(self, pos: int) -> int:
        """The position after the string literal starting at ``pos`` (a `"`)."""
        m = _STRING.match(self.text, pos)
        if m is None:
            raise self.fail("unterminated string", pos)
        return m.end()

    def value_end(self, pos: int, name: str, name_pos: int) -> int:
        """The position after the `;` ending a property value that starts at ``pos``, skipping
        strings and comments (which may hold `;`). Braces end a value: a missing `;`."""
        text = self.text
        while True:
            m = _VALUE_SPECIAL.search(text, pos)
            if m is None:
                raise self.fail(f"unterminated value of `{name}` (missing `;`)", name_pos)
            c = m.group(0)
            pos = m.start()
            if c == ";":
                return pos + 1
            if c == '"':
                m = _STRING.match(text, pos)
                if m is None:
                    break
                pos = m.end()
            elif text.startswith("//", pos):
                end = text.find("\n", pos)
                pos = len(text) if end < 0 else end
            elif text.startswith("/*", pos):
                end = text.find("*/", pos + 2)
                if end < 0:
                    break
                pos = end + 2
            elif c == "/":
                pos += 1
            else:
                break
        raise self.fail(f"unterminated value of `{name}` (missing `;`)", name_pos)


def check_conflict_markers(src: Text) -> None:
    """Committed merge-conflict markers (`<<<<<<<`, `=======`, `>>>>>>>` at a line start) are an
    input error at their line: which side holds is unknown."""
    m = _CONFLICT.search(src.text)
    if m is not None:
        raise InputError(src.path, f"merge-conflict marker `{m.group(0).strip()[:40]}` (unresolved git merge)",
                         src.line_of(m.start()))
