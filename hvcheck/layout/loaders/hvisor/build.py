"""What hvisor's build says about a board: the make variables of the top-level Makefile and the
board's `*.mk` (`platform/<arch>/<board>/platform.mk`; earlier `scripts/<board>-<arch>.mk`), read
the way `make ARCH=<arch> BOARD=<board>` reads them.

Only what the layout needs is evaluated: `VAR := value`, `=`, `?=`, `+=`, `export`, `include`,
`ifeq/ifneq/ifdef/ifndef/else/endif` with `$(VAR)`, `$(findstring ...)`, `$(strip ...)` and
`$(subst ...)`; recipes and rules are skipped. Every variable keeps the file:line that set it, so
a verdict can say which file decided (e.g. which device tree the root zone boots).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.layout.loaders.hvisor.tree import BoardTree, read_small_text

MAX_MAKE_INCLUDES = 16
_ASSIGN = re.compile(r"^(?:export\s+|override\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(:=|::=|\?=|\+=|=)\s*(.*)$")
_COND = re.compile(r"^(ifeq|ifneq|ifdef|ifndef)\b\s*(.*)$")
_REF = re.compile(r"\$[({]([^(){}$]*)[)}]")


@dataclass
class MakeVar:
    value: str
    where: str                        # "file:line" of the assignment that set the value
    via: list[str] = field(default_factory=list)   # the variables its value was expanded from
    pieces: list[tuple[str, str]] = field(default_factory=list)   # (file:line, text) of each `+=`
    raw: str = ""                     # the assignment's text as written


@dataclass
class MakeVars:
    """The variables after reading the Makefile (and what it includes) for one board."""

    vars: dict[str, MakeVar] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)   # every file read, in order

    def get(self, name: str) -> MakeVar | None:
        return self.vars.get(name)

    def explain(self, name: str) -> str:
        """`name := value at file:line` and, recursively, the variables that value used."""
        seen: set[str] = set()
        out: list[str] = []

        def walk(n: str) -> None:
            var = self.vars.get(n)
            if var is None or n in seen or var.where.startswith("command line"):
                return
            seen.add(n)
            out.append(f"{n} := {var.raw or var.value} at {var.where}")
            for dep in var.via:
                walk(dep)

        walk(name)
        return "; ".join(out)


def board_make_vars(tree: BoardTree) -> MakeVars | None:
    """The build's variables for ``tree``'s board (None when the checkout has no Makefile)."""
    if tree.repo is None:
        return None
    makefile = tree.repo / "Makefile"
    if not makefile.is_file():
        return None
    reader = _Reader(tree.repo)
    # What `make ARCH=<arch> BOARD=<board>` sets on the command line, and what the Makefile
    # computes with a shell script from cargo/features.
    for name, value in (("ARCH", tree.arch), ("BOARD", tree.name), ("FEATURES", " ".join(sorted(tree.features)))):
        reader.vars.vars[name] = MakeVar(value, "command line (make ARCH=... BOARD=...)")
        reader.command_line.add(name)
    reader.read(makefile, 0)
    return reader.vars


class _Reader:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.vars = MakeVars()
        self.command_line: set[str] = set()

    def expand(self, text: str, via: list[str] | None = None, depth: int = 0) -> str:
        """``text`` with every `$(VAR)` / function the reader knows expanded (unknown -> "")."""
        if depth > 16 or "$" not in text:
            return text
        out: list[str] = []
        pos = 0
        while True:
            start = text.find("$", pos)
            if start < 0 or start + 1 >= len(text):
                out.append(text[pos:])
                return "".join(out)
            out.append(text[pos:start])
            opener = text[start + 1]
            if opener not in "({":
                out.append(self._var(opener, via, depth))   # $X
                pos = start + 2
                continue
            end = _matching(text, start + 1)
            if end < 0:
                out.append(text[start:])
                return "".join(out)
            out.append(self._call(text[start + 2:end], via, depth))
            pos = end + 1

    def _var(self, name: str, via: list[str] | None, depth: int) -> str:
        var = self.vars.vars.get(name)
        if var is None:
            return ""
        if via is not None:
            via.append(name)
        return self.expand(var.value, None, depth + 1)

    def _call(self, inner: str, via: list[str] | None, depth: int) -> str:
        func, _, args = inner.partition(" ")
        if not args or func not in ("findstring", "strip", "subst", "shell", "filter"):
            return self._var(self.expand(inner, via, depth + 1), via, depth)
        parts = [self.expand(a, via, depth + 1) for a in _split_args(args)]
        if func == "findstring" and len(parts) == 2:
            return parts[0].strip() if parts[0].strip() in parts[1] else ""
        if func == "strip":
            return " ".join(" ".join(parts).split())
        if func == "subst" and len(parts) == 3:
            return parts[2].replace(parts[0], parts[1])
        if func == "filter" and len(parts) == 2:
            want = parts[0].split()
            return " ".join(w for w in parts[1].split() if w in want)
        return ""   # $(shell ...): not run

    def read(self, path: Path, depth: int) -> None:
        text = read_small_text(path)
        if text is None or depth > MAX_MAKE_INCLUDES:
            return
        rel = _rel(path, self.repo)
        self.vars.files.append(rel)
        # one entry per open conditional: [enclosing branch active, a branch already taken, this one active]
        conds: list[list[bool]] = []
        for line_no, raw in _logical_lines(text):
            if raw.startswith("\t"):
                continue   # a recipe
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            active = not conds or conds[-1][2]
            m = _COND.match(line)
            if m:
                now = active and self._condition(m.group(1), m.group(2))
                conds.append([active, now, now])
                continue
            if line == "else" or line.startswith("else "):
                if conds:
                    outer, taken, _ = conds[-1]
                    cm = _COND.match(line[4:].strip())
                    now = outer and not taken and (cm is None or self._condition(cm.group(1), cm.group(2)))
                    conds[-1] = [outer, taken or now, now]
                continue
            if line == "endif":
                if conds:
                    conds.pop()
                continue
            if not active:
                continue
            if line.startswith(("include ", "-include ", "sinclude ")):
                for name in self.expand(line.split(None, 1)[1]).split():
                    self.read(self.repo / name, depth + 1)
                continue
            m = _ASSIGN.match(line)
            if m:
                self._assign(m.group(1), m.group(2), m.group(3).strip(), f"{rel}:{line_no}")

    def _assign(self, name: str, op: str, value: str, where: str) -> None:
        if name in self.command_line:
            return   # command-line variables override the makefile's
        old = self.vars.vars.get(name)
        via: list[str] = []
        if op == "?=" and old is not None:
            return
        if op in (":=", "::="):
            self.vars.vars[name] = MakeVar(self.expand(value, via), where, via, raw=value)
        elif op == "+=" and old is not None:
            pieces = (old.pieces or [(old.where, old.value)]) + [(where, value)]
            self.vars.vars[name] = MakeVar(f"{old.value} {value}", where, old.via, pieces, raw=f"{old.raw} {value}")
        else:
            _ = self.expand(value, via)   # record what it refers to; expanded again when used
            self.vars.vars[name] = MakeVar(value, where, via, raw=value)

    def _condition(self, kind: str, args: str) -> bool:
        if kind in ("ifdef", "ifndef"):
            defined = bool(self.expand(f"$({args.strip()})").strip())
            return defined if kind == "ifdef" else not defined
        pair = _cond_pair(args)
        if pair is None:
            return False
        a, b = (self.expand(x).strip() for x in pair)
        return (a == b) if kind == "ifeq" else (a != b)


def _matching(text: str, open_at: int) -> int:
    close = ")" if text[open_at] == "(" else "}"
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] in "({":
            depth += 1
        elif text[i] in ")}":
            depth -= 1
            if depth == 0:
                return i if text[i] == close else -1
    return -1


def _split_args(args: str) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in args:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _cond_pair(args: str) -> tuple[str, str] | None:
    args = args.strip()
    if args.startswith("(") and args.endswith(")"):
        parts = _split_args(args[1:-1])
        return (parts[0], parts[1]) if len(parts) == 2 else None
    m = re.match(r"""(['"])(.*?)\1\s+(['"])(.*?)\3$""", args)
    return (m.group(2), m.group(4)) if m else None


def _rel(path: Path, repo: Path) -> str:
    try:
        return str(path.relative_to(repo))
    except ValueError:
        return str(path)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each line, backslash continuations joined."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for no, line in enumerate(text.split("\n"), 1):
        if not pending:
            start = no
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        out.append((start, " ".join([*pending, line])))
        pending = []
    if pending:
        out.append((start, " ".join(pending)))
    return out


def qemu_smp(make: MakeVars) -> tuple[int, str] | None:
    """The CPU count a QEMU board runs with (`-smp N` in QEMU_ARGS), and the file:line that says so."""
    var = make.get("QEMU_ARGS")
    if var is None:
        return None
    last: tuple[int, str] | None = None
    for where, text in var.pieces or [(var.where, var.value)]:
        m = re.search(r"-smp\s+(?:cpus=)?(\d+)", text)
        if m is not None:
            last = int(m.group(1)), where
    return last
