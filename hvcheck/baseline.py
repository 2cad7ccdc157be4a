"""Stable fingerprints and baseline files: adopt hvcheck on a tree that already has findings, then
fail only on new ones.

A fingerprint is a hash of what makes a finding *that* finding: its rule, each location as a path
relative to the project root plus the text of the line it points at (not the line number, so an
unrelated edit above does not change it), and its key facts (``data``, without line numbers, with
paths made relative). Never the message text, which may be reworded between versions.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvcheck import __version__
from hvcheck.errors import InputError
from hvcheck.findings import Finding, Location
from hvcheck.inputs import read_cited

BASELINE_FORMAT = 1
MAX_BASELINE_BYTES = 64 << 20
FINGERPRINT_KEY = "hvcheck/v1"


def relative(path: str, root: Path) -> str:
    """``path`` relative to ``root`` with '/' separators, or as given when it lies outside."""
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, root)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


class _Keys:
    """What one run's fingerprints share: the project root, each cited file's lines, each path made
    relative once and which data keys are positions. A patch with 50,000 findings cited the same two
    files 100,000 times; `relpath` and the generic walk per finding were most of the time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lines: dict[str, list[str]] = {}
        self.rel: dict[str, str] = {}
        self.position: dict[str, bool] = {}
        # relpath's answer for a normalised absolute path, without its walk: the part under the root
        # (abspath as relpath takes it, so a root given with '..' or a trailing '/' compares right)
        self.prefix = os.path.abspath(root).rstrip("/") + "/" if os.sep == "/" else None

    def relative(self, path: str) -> str:
        rel = self.rel.get(path)
        if rel is None:
            rel = self.rel[path] = self._relative(path)
        return rel

    def _relative(self, path: str) -> str:
        prefix = self.prefix
        if prefix is not None and path[:1] == "/" and "//" not in path and "/." not in path \
                and not path.endswith("/") and path != "/":
            # already normalised: under the root, its tail; elsewhere relpath starts with '..'
            if path.startswith(prefix):
                rel = path[len(prefix):]
                return path if rel.startswith("..") else rel
            return "." if path == prefix[:-1] else path
        return relative(path, self.root)

    def line_text(self, path: str, line: int) -> str | None:
        lines = self.lines.get(path)
        if lines is None:
            raw = read_cited(path, 8 << 20)
            lines = self.lines[path] = [] if raw is None else raw.decode("utf-8", "replace").splitlines()
        return " ".join(lines[line - 1].split()) if 1 <= line <= len(lines) else None

    def canonical(self, value: Any) -> Any:
        """``data`` as hashed: positions dropped, absolute paths relative, integers as hex. Key
        order does not matter here: the blob is dumped with sort_keys."""
        kind = type(value)
        if kind is str:
            return self.relative(value) if os.path.isabs(value) else value
        if value is None or kind is bool or kind is float:
            return value
        if kind is dict:
            out: dict[str, Any] = {}
            position = self.position
            for k, v in value.items():
                if type(k) is not str:
                    return self._odd_keys(value)
                drop = position.get(k)
                if drop is None:
                    drop = position[k] = _is_position(k)
                if not drop:
                    out[k] = self.canonical(v)
            return out
        if kind is list or kind is tuple:
            return [self.canonical(v) for v in value]
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return hex(value)  # repr() of a huge int (a fuzzed log value) exceeds Python's digit limit
        if isinstance(value, dict):
            return self._odd_keys(value)
        if isinstance(value, list | tuple):
            return [self.canonical(v) for v in value]
        if isinstance(value, str):
            return self.canonical(str.__str__(value))
        if isinstance(value, float):
            return value
        return str(value)

    def _odd_keys(self, value: dict[Any, Any]) -> dict[str, Any]:
        # keys that are not plain strings are str()-ed in sorted order, as ever (a later duplicate wins)
        return {str(k): self.canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if not _is_position(str(k))}

    def location(self, loc: Location) -> list[Any]:
        path = self.relative(loc.path) if loc.path else None
        anchor = self.line_text(loc.path, loc.line) if (loc.path and loc.line) else None
        # Without readable text (a compressed log, a file gone), the line number is all there is.
        return [path, anchor if anchor is not None else loc.line, loc.symbol, loc.detail]


def _is_position(key: str) -> bool:
    return key in ("line", "column", "lines") or key.endswith(("_line", "_column"))


_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


def _fingerprint(finding: Finding, keys: _Keys) -> str:
    import hashlib  # here, not at import: commands that print one line start faster

    # The blob's bytes are the contract: baselines saved by earlier versions hold its hash.
    key = [finding.rule, [keys.location(loc) for loc in finding.locations], keys.canonical(finding.data)]
    return hashlib.sha256(_ENCODE(key).encode("utf-8")).hexdigest()[:32]


def fingerprint(finding: Finding, root: Path, cache: dict[str, list[str]] | None = None) -> str:
    keys = _Keys(root)
    if cache is not None:
        keys.lines = cache
    return _fingerprint(finding, keys)


def assign_fingerprints(findings: list[Finding], root: Path) -> None:
    keys = _Keys(root)
    for f in findings:
        f.fingerprint = _fingerprint(f, keys)


@dataclass
class Baseline:
    path: str
    counts: Counter[str]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def write_baseline(path: str, findings: list[Finding], root: Path) -> None:
    entries = []
    for f in sorted(findings, key=lambda f: (f.rule, f.fingerprint or "")):
        loc = next((loc for loc in f.locations if loc.path), None)
        entries.append({"fingerprint": f.fingerprint, "rule": f.rule,
                        "where": f"{relative(loc.path, root)}:{loc.line}" if loc and loc.path else None,
                        "message": f.message[:300]})
    doc = {"tool": "hvcheck", "baseline_format": BASELINE_FORMAT, "hvcheck_version": __version__,
           "note": "accepted findings; `hvcheck ... --baseline FILE` reports only findings not listed here",
           "findings": entries}
    tmp = f"{path}.hvcheck-tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(path, f"cannot write the baseline: {exc.strerror or exc}") from None


def read_baseline(path: str) -> Baseline:
    from hvcheck.textio import read_text

    text = read_text(path, MAX_BASELINE_BYTES, "baseline files", expected="a JSON baseline")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not a baseline (invalid JSON: {exc.msg})", exc.lineno) from None
    if not isinstance(doc, dict) or doc.get("tool") != "hvcheck" or "baseline_format" not in doc:
        raise InputError(path, "not an hvcheck baseline (write one with --write-baseline FILE)", 1)
    fmt = doc["baseline_format"]
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise InputError(path, "baseline_format must be an integer", 1)
    if fmt > BASELINE_FORMAT:
        raise InputError(path, f"baseline format {fmt} was written by a newer hvcheck "
                               f"({doc.get('hvcheck_version', '?')}); this hvcheck {__version__} reads format "
                               f"{BASELINE_FORMAT}: upgrade hvcheck, or rewrite the baseline with --write-baseline", 1)
    entries = doc.get("findings")
    if not isinstance(entries, list):
        raise InputError(path, "baseline has no findings list", 1)
    counts: Counter[str] = Counter()
    for i, e in enumerate(entries):
        fp = e.get("fingerprint") if isinstance(e, dict) else None
        if not isinstance(fp, str) or not fp:
            raise InputError(path, f"baseline entry {i + 1} has no fingerprint", None)
        counts[fp] += 1
    return Baseline(path, counts)
