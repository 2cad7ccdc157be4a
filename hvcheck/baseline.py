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


def _line_text(path: str, line: int, cache: dict[str, list[str]]) -> str | None:
    if path not in cache:
        raw = read_cited(path, 8 << 20)
        cache[path] = [] if raw is None else raw.decode("utf-8", "replace").splitlines()
    lines = cache[path]
    return " ".join(lines[line - 1].split()) if 1 <= line <= len(lines) else None


def _canonical(value: Any, key: str, root: Path) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v, str(k), root) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if not _is_position(str(k))}
    if isinstance(value, list | tuple):
        return [_canonical(v, key, root) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        return relative(value, root)
    if isinstance(value, int) and not isinstance(value, bool):
        return hex(value)  # repr() of a huge int (a fuzzed log value) exceeds Python's digit limit
    if isinstance(value, float | str | bool) or value is None:
        return value
    return str(value)


def _is_position(key: str) -> bool:
    return key in ("line", "column", "lines") or key.endswith(("_line", "_column"))


def _location_key(loc: Location, root: Path, cache: dict[str, list[str]]) -> list[Any]:
    path = relative(loc.path, root) if loc.path else None
    anchor = _line_text(loc.path, loc.line, cache) if (loc.path and loc.line) else None
    # Without readable text (a compressed log, a file gone), the line number is all there is.
    return [path, anchor if anchor is not None else loc.line, loc.symbol, loc.detail]


def fingerprint(finding: Finding, root: Path, cache: dict[str, list[str]] | None = None) -> str:
    cache = {} if cache is None else cache
    key = [finding.rule, [_location_key(loc, root, cache) for loc in finding.locations],
           _canonical(finding.data, "", root)]
    import hashlib

    blob = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def assign_fingerprints(findings: list[Finding], root: Path) -> None:
    cache: dict[str, list[str]] = {}
    for f in findings:
        f.fingerprint = fingerprint(f, root, cache)


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
