"""The project configuration: `[tool.hvcheck]` in pyproject.toml, or a `.hvcheck.toml` (whose top
level is the same table), found by walking up from the checked path — what ruff and cppcheck users
expect. It selects and ignores rules, ignores rules for paths or boards (each with a required
reason), and sets default options.

    [tool.hvcheck]
    select = ["M", "X003"]          # rule IDs or ID prefixes; default: every rule
    ignore = ["M014"]               # rules never reported
    fail-on = "warning"             # defaults for options not given on the command line
    headroom = "16M"
    image-size = "2M:8M"

    [[tool.hvcheck.per-path-ignores]]
    path = "platform/riscv64/*/board.rs"     # glob, relative to the configuration file
    rules = ["M013"]
    reason = "pool shrinks in the next release (issue #123)"

    [[tool.hvcheck.per-board-ignores]]
    board = "aarch64/rk3568"
    rules = ["M001"]
    reason = "known: fixed by relocating hvisor in the vendor tree"

Bad configuration is bad input: `error: path:line: what`, exit 2.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvcheck.errors import InputError
from hvcheck.findings import Finding, Location
from hvcheck.textio import read_text

MAX_CONFIG_BYTES = 1 << 20
CONFIG_NAMES = (".hvcheck.toml", "pyproject.toml")
DEFAULT_KEYS = {"fail-on", "headroom", "image-size"}
_RULE_SELECTOR = re.compile(r"^[A-Z](\d{0,3})$")


@dataclass(frozen=True)
class Ignore:
    """One per-path or per-board ignore: the rules, the reason, and the config line it came from."""

    rules: tuple[str, ...]
    reason: str
    source: Location
    path: str | None = None    # glob relative to the config's directory
    board: str | None = None

    def covers_rule(self, rule_id: str) -> bool:
        return any(rule_id.startswith(r) for r in self.rules)


@dataclass
class Config:
    path: Path | None = None                          # None: no configuration file found
    select: tuple[str, ...] | None = None             # None: every rule
    ignore: tuple[str, ...] = ()
    ignores: list[Ignore] = field(default_factory=list)
    defaults: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path | None:
        return self.path.parent if self.path is not None else None

    def rule_selected(self, rule_id: str) -> bool:
        if any(rule_id.startswith(p) for p in self.ignore):
            return False
        return self.select is None or any(rule_id.startswith(p) for p in self.select) or rule_id.startswith("E")

    def ignore_for(self, finding: Finding) -> Ignore | None:
        """The per-path/per-board ignore that covers ``finding``, if any."""
        for ig in self.ignores:
            if not ig.covers_rule(finding.rule):
                continue
            if ig.board is not None and ig.board in (finding.data.get("board"), finding.data.get("system")):
                return ig
            if ig.path is not None and self.root is not None and any(
                    _matches(loc.path, ig.path, self.root) for loc in finding.locations if loc.path):
                return ig
        return None


def _matches(path: str, pattern: str, root: Path) -> bool:
    import fnmatch

    try:
        rel = os.path.relpath(os.path.abspath(path), root)
    except ValueError:
        return False
    if rel.startswith(".."):
        return False
    rel = rel.replace(os.sep, "/")
    return fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel, pattern.rstrip("/") + "/*") or \
        rel.startswith(pattern.rstrip("/*") + "/") and pattern.endswith("/**")


def find_config(start: Path | None) -> Path | None:
    """The nearest .hvcheck.toml, or pyproject.toml with a [tool.hvcheck] table, from ``start`` up."""
    here = Path(start or ".").absolute()
    if here.is_file() or not here.exists():
        here = here.parent
    for directory in [here, *here.parents]:
        dot = directory / ".hvcheck.toml"
        if dot.is_file():
            return dot
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                head = pyproject.read_bytes()[:MAX_CONFIG_BYTES]
            except OSError:
                continue
            if b"[tool.hvcheck" in head:
                return pyproject
    return None


def _line_of(text: str, needle: str, start_line: int = 1) -> int | None:
    """The first line at or after ``start_line`` whose text starts with ``needle`` (tomllib keeps no
    positions; configuration errors still name a line)."""
    for number, line in enumerate(text.splitlines()[start_line - 1:], start_line):
        if line.strip().startswith(needle):
            return number
    return None


def load_config(path: Path) -> Config:
    import tomllib  # only when a configuration file exists (start-up budget of `hvcheck xcr0`)

    name = str(path)
    text = read_text(path, MAX_CONFIG_BYTES, "configuration files", expected="TOML")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+)", str(exc))
        line = int(m.group(1)) if m else (len(text.splitlines()) or 1) if "end of document" in str(exc) else None
        raise InputError(name, f"invalid TOML: {re.split(r' [(]at ', str(exc))[0]}", line) from None
    if path.name == "pyproject.toml":
        table: Any = doc.get("tool", {}).get("hvcheck")
        head = _line_of(text, "[tool.hvcheck") or 1
    else:
        table, head = doc, 1
    if not isinstance(table, dict):
        raise InputError(name, "[tool.hvcheck] must be a table", head)
    cfg = Config(path=path)
    known = {"select", "ignore", "per-path-ignores", "per-board-ignores", *DEFAULT_KEYS}
    for key, value in table.items():
        line = _line_of(text, key, head) or head
        if key not in known:
            raise InputError(name, f"unknown key {key!r} (known: {', '.join(sorted(known))})", line)
        if key in ("select", "ignore"):
            rules = _rule_list(value, name, line, key)
            if key == "select":
                cfg.select = rules
            else:
                cfg.ignore = rules
        elif key in DEFAULT_KEYS:
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise InputError(name, f"{key} must be a string or an integer", line)
            cfg.defaults[key] = str(value)
        else:
            cfg.ignores.extend(_ignores(value, name, text, line, "path" if key == "per-path-ignores" else "board"))
    return cfg


def _rule_list(value: Any, name: str, line: int, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(name, f"{key} must be a list of rule IDs or prefixes (\"M001\", \"M\")", line)
    for v in value:
        if not _RULE_SELECTOR.match(v):
            raise InputError(name, f"{key}: {v!r} is not a rule ID or prefix (a capital letter and up to 3 digits)", line)
    return tuple(value)


def _ignores(value: Any, name: str, text: str, line: int, what: str) -> list[Ignore]:
    if not isinstance(value, list):
        raise InputError(name, f"per-{what}-ignores must be an array of tables ([[...]])", line)
    out = []
    entry_line = line
    for entry in value:
        entry_line = _line_of(text, f"{what}", entry_line + 1) or entry_line
        if not isinstance(entry, dict):
            raise InputError(name, f"per-{what}-ignores entries must be tables", entry_line)
        extra = set(entry) - {what, "rules", "reason"}
        if extra:
            raise InputError(name, f"per-{what}-ignores: unknown key(s) {', '.join(sorted(extra))}", entry_line)
        target = entry.get(what)
        if not isinstance(target, str) or not target:
            raise InputError(name, f"per-{what}-ignores entry needs a {what} string", entry_line)
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise InputError(name, f"per-{what}-ignores entry for {target!r} needs a reason: say why it is accepted",
                             entry_line)
        rules = _rule_list(entry.get("rules"), name, entry_line, "rules")
        if not rules:
            raise InputError(name, f"per-{what}-ignores entry for {target!r} names no rules", entry_line)
        loc = Location(name, entry_line)
        out.append(Ignore(rules, reason.strip(), loc, path=target if what == "path" else None,
                          board=target if what == "board" else None))
    return out


def config_for(explicit: Path | None, start: Path | None) -> Config:
    """The configuration given with --config, else the one found above ``start``, else none."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(str(explicit), "--config: no such file")
        return load_config(explicit)
    found = find_config(start)
    return load_config(found) if found is not None else Config()
