"""A JSON reader that keeps the line of every value (zone configs must be reported as file:line).

Python's :mod:`json` gives no positions, so this is a small recursive-descent parser that reuses
the standard library's string scanner and validates like :func:`json.loads` (errors become
InputError with the line). It is bounded: nesting depth and file size are capped.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvcheck.errors import InputError
from hvcheck.inputs import read_capped
from hvcheck.units import MAX_NUMBER_DIGITS

# json's string scanner (C-accelerated; not in the typeshed stubs).
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

MAX_JSON_BYTES = 4 << 20
MAX_DEPTH = 64

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass
class JValue:
    """A JSON value and the 1-based line it starts on. ``value`` holds dict[str, JValue],
    list[JValue] or a scalar."""

    value: Any
    line: int

    def get(self, key: str) -> JValue | None:
        return self.value.get(key) if isinstance(self.value, dict) else None

    def plain(self) -> Any:
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


def read_json_lines(path: Path) -> JValue:
    name = str(path)
    raw = read_capped(path, MAX_JSON_BYTES, "zone configs")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(name, "not UTF-8 text (binary file?)", raw[: exc.start].count(b"\n") + 1) from None
    return _Parser(name, text).document()


class _Parser:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.pos = 0
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def line(self, pos: int | None = None) -> int:
        return bisect.bisect_left(self._newlines, self.pos if pos is None else pos) + 1

    def fail(self, message: str, pos: int | None = None) -> InputError:
        return InputError(self.path, f"invalid JSON: {message}", self.line(pos))

    def ws(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def document(self) -> JValue:
        self.ws()
        if self.pos >= len(self.text):
            raise self.fail("empty file")
        value = self.value(0)
        self.ws()
        if self.pos != len(self.text):
            raise self.fail("extra data after the top-level value")
        return value

    def value(self, depth: int) -> JValue:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH}")
        self.ws()
        start = self.pos
        line = self.line()
        if start >= len(self.text):
            raise self.fail("unexpected end of file")
        c = self.text[start]
        if c == "{":
            self.pos += 1
            out: dict[str, JValue] = {}
            self.ws()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return JValue(out, line)
            while True:
                self.ws()
                if not self.text.startswith('"', self.pos):
                    raise self.fail("expected a property name in double quotes")
                key_line = self.line()
                key = self.string()
                if key in out:
                    raise InputError(self.path, f"duplicate key {key!r}", key_line)
                self.ws()
                if not self.text.startswith(":", self.pos):
                    raise self.fail("expected `:`")
                self.pos += 1
                item = self.value(depth + 1)
                out[key] = JValue(item.value, item.line)
                self.ws()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    continue
                if self.text.startswith("}", self.pos):
                    self.pos += 1
                    return JValue(out, line)
                raise self.fail("expected `,` or `}`")
        if c == "[":
            self.pos += 1
            items: list[JValue] = []
            self.ws()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return JValue(items, line)
            while True:
                items.append(self.value(depth + 1))
                self.ws()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    continue
                if self.text.startswith("]", self.pos):
                    self.pos += 1
                    return JValue(items, line)
                raise self.fail("expected `,` or `]`")
        if c == '"':
            return JValue(self.string(), line)
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, start):
                self.pos += len(word)
                return JValue(val, line)
        m = _NUMBER.match(self.text, start)
        if m is not None and m.end() > start:
            self.pos = m.end()
            s = m.group(0)
            if len(s) > MAX_NUMBER_DIGITS:
                raise InputError(self.path, f"number too large ({len(s)} characters; at most {MAX_NUMBER_DIGITS})",
                                 self.line(start))
            return JValue(float(s) if any(ch in s for ch in ".eE") else int(s), line)
        raise self.fail(f"unexpected `{self.text[start:start + 10].splitlines()[0] if self.text[start:] else ''}`")

    def string(self) -> str:
        try:
            s, end = _scanstring(self.text, self.pos + 1)
        except json.JSONDecodeError as exc:
            raise self.fail(exc.msg, exc.pos) from None
        self.pos = end
        return s
