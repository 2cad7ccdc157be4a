"""The backport area's model: what a patch is (messages, files, hunks, change blocks), where a
change sits in C source (a scope chain), and which evidence says so.

Pure data, no parsing: the readers (:mod:`hvcheck.backport.readers`) build it, the rules
(:mod:`hvcheck.backport.rules`) judge it. Hunk lines are kept as the raw diff lines ("+text",
"-text", " text") in one list per hunk, because a patch at the size limit has about a million of
them and one string per line is the only affordable representation (issue 19: memory within ~10x
the input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

C_SUFFIXES = (".c", ".h")
LINE_HEAD = 512  # line patterns are matched on a line's first characters only (no quadratic backtracking)
CASE_LABEL = re.compile(r"^(\s*)(case\s+(.+?)\s*:(?!:)|default\s*:)")  # a `case X:` / `default:` line


_HUNK_HEADER = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)", re.S)


@dataclass(slots=True)
class Hunk:
    """One hunk. The numbers and section are read from ``header`` (the `@@` line as written) when
    asked: four int objects per hunk cost more than the line itself, and a patch at the size limit
    can hold 800,000 hunks."""

    index: int  # 1-based, within its file
    header: str  # "@@ -a,b +c,d @@ section" (a header wrapped by a mail client is joined)
    body: str  # the raw diff lines joined with "\n": one string per hunk, not one per line
    patch_line: int  # 1-based line of the @@ header in the input file
    line_origin: list[int] | None = None  # input line of each entry of ``lines`` when not consecutive

    @property
    def lines(self) -> list[str]:
        """Raw diff lines: first character "+", "-" or " ", then the text. Split from ``body`` when
        asked: at the size limit one string object per line would cost more than the lines."""
        return self.body.split("\n") if self.body else []

    def _numbers(self) -> tuple[int, int, int, int, str]:
        m = _HUNK_HEADER.match(self.header)
        if m is None:  # the reader only builds hunks from headers that match
            return 0, 0, 0, 0, ""
        return (int(m.group(1)), int(m.group(2)) if m.group(2) is not None else 1, int(m.group(3)),
                int(m.group(4)) if m.group(4) is not None else 1, m.group(5).strip())

    @property
    def old_start(self) -> int:
        return self._numbers()[0]

    @property
    def old_len(self) -> int:
        return self._numbers()[1]

    @property
    def new_start(self) -> int:
        return self._numbers()[2]

    @property
    def new_len(self) -> int:
        return self._numbers()[3]

    @property
    def section(self) -> str:
        """The text after the second @@ (a guess of the enclosing definition, never a fact)."""
        return self._numbers()[4]

    def input_line(self, i: int) -> int:
        """The input file's line number of ``lines[i]``."""
        if self.line_origin is not None:
            return self.line_origin[i]
        return self.patch_line + 1 + i

    def old_side(self) -> list[str]:
        return [ln[1:] for ln in self.lines if ln[0] != "+"]

    def new_side(self) -> list[str]:
        return [ln[1:] for ln in self.lines if ln[0] != "-"]

    def numbers(self) -> list[tuple[int | None, int | None]]:
        """(old line, new line) of every entry of ``lines`` per the @@ header."""
        old_start, old_len, new_start, new_len, _ = self._numbers()
        old = old_start if old_len else old_start + 1
        new = new_start if new_len else new_start + 1
        out: list[tuple[int | None, int | None]] = []
        for ln in self.lines:
            kind = ln[0]
            if kind == " ":
                out.append((old, new))
                old += 1
                new += 1
            elif kind == "-":
                out.append((old, None))
                old += 1
            else:
                out.append((None, new))
                new += 1
        return out


@dataclass(slots=True)
class FilePatch:
    patch_path: str  # the input this came from
    old_path: str | None  # as written in the patch, prefix stripped when the format says so; None: created
    new_path: str | None  # None: deleted
    hunks: list[Hunk]
    patch_line: int
    message: int = 0  # index of the message (mail / commit) in its Patch
    binary: bool = False
    raw_names: tuple[str, ...] = ()  # names as written (for -pN probing in a tree)
    git: bool = False  # a `diff --git` section: a/ and b/ prefixes are certain

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or "?"

    @property
    def is_c(self) -> bool:
        return self.path.endswith(C_SUFFIXES)


@dataclass(slots=True)
class UpstreamRef:
    """A commit id the text names, and how: "self" (the patch's own commit: format-patch `From
    <sha>`, `git show`), "upstream" (`commit X upstream`, `[ Upstream commit X ]`, `cherry picked
    from`, Xen's `master commit:`, DEP-3/Yocto backport headers) or "fixes" (`Fixes: X`)."""

    sha: str
    kind: str
    line: int
    text: str


@dataclass(slots=True)
class Message:
    """One mail of an mbox, one commit of a `git log -p`, or the whole input when it is a bare diff."""

    index: int
    subject: str | None
    series: tuple[int, int] | None  # [PATCH n/m]
    first_line: int
    refs: list[UpstreamRef] = field(default_factory=list)
    how: list[str] = field(default_factory=list)  # how the text was obtained (MIME, quoting, repairs)

    def ref(self, *kinds: str) -> UpstreamRef | None:
        for kind in kinds:
            for r in self.refs:
                if r.kind == kind:
                    return r
        return None


@dataclass(slots=True)
class Problem:
    """Part of an input that could not be used: a file section or a single hunk."""

    line: int
    what: str
    path: str | None = None  # the patched file it belongs to, when known
    hunk: int | None = None
    severity: str = "error"  # "note" for repairs that were made and are only reported


@dataclass(slots=True)
class Patch:
    path: str
    files: list[FilePatch]
    problems: list[Problem]
    messages: list[Message]

    @property
    def subject(self) -> str | None:
        return self.messages[0].subject if self.messages else None

    def blocks(self) -> list[Block]:
        out: list[Block] = []
        for fp in self.files:
            if fp.binary:
                continue
            for hunk in fp.hunks:
                out.extend(split_blocks(fp, hunk))
        return out

    def unreadable_hunks(self, path: str) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error" and p.path == path]


@dataclass(slots=True, eq=False)
class Block:
    """A maximal run of removed/added lines inside one hunk: the unit that is paired. It is the
    index range [start, end) of ``hunk.lines``; its own lines are kept (``text``, split as
    ``changed``) so pairing never splits the hunk again."""

    file: FilePatch
    hunk: Hunk
    start: int
    end: int
    # Where hunk.lines[start:end] (raw "-"/"+" lines, joined with "\n") sits in ``hunk.body``, as
    # character offsets: a block costs no copy of its lines (at the hunk limit copies were a fifth
    # of the run's peak memory, issue 19); offsets below 257 are shared int objects.
    text_start: int
    text_end: int

    @property
    def text(self) -> str:
        return self.hunk.body[self.text_start:self.text_end]

    @property
    def changed(self) -> list[str]:
        return self.text.split("\n")

    @property
    def removed(self) -> list[int]:
        return [self.start + k for k, ln in enumerate(self.changed) if ln[0] == "-"]

    @property
    def added(self) -> list[int]:
        return [self.start + k for k, ln in enumerate(self.changed) if ln[0] == "+"]

    @property
    def context_before(self) -> int:
        return self.start

    def removed_text(self) -> list[str]:
        return [ln[1:] for ln in self.changed if ln[0] == "-"]

    def added_text(self) -> list[str]:
        return [ln[1:] for ln in self.changed if ln[0] == "+"]

    def before(self) -> list[str]:
        """Context lines above the block inside its hunk."""
        return [ln[1:] for ln in self.hunk.lines[:self.start] if ln[0] == " "]

    @property
    def first(self) -> int:
        """Index of the block's first removed line, else its first added line."""
        for k, ln in enumerate(self.changed):
            if ln[0] == "-":
                return self.start + k
        return self.start

    @property
    def last(self) -> int:
        return self.end - 1

    @property
    def patch_line(self) -> int:
        return self.hunk.input_line(self.first)

    def label(self) -> str:
        return f"{self.file.patch_path}:{self.patch_line} (hunk {self.hunk.index} of {self.file.path})"


def split_blocks(fp: FilePatch, hunk: Hunk) -> list[Block]:
    blocks: list[Block] = []
    lines = hunk.lines
    start = -1
    start_at = offset = 0  # character offsets in hunk.body of the block's first line / this line
    for i, ln in enumerate(lines):
        if ln[0] == " ":
            if start >= 0:
                blocks.append(Block(fp, hunk, start, i, start_at, offset - 1))
                start = -1
        elif start < 0:
            start, start_at = i, offset
        offset += len(ln) + 1
    if start >= 0:
        blocks.append(Block(fp, hunk, start, len(lines), start_at, len(hunk.body)))
    return blocks


# --- where a change sits -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ScopePart:
    """One level of a scope chain. ``kind``: "function" (also K&R and `SYSCALL_DEFINEn(name)`
    style), "macro" (the body of a #define), "initializer" (a named struct/union/array
    initializer), "type" (a struct/union/enum definition), "switch", "case", "member" (the
    designator or element of an initializer, the field of a type), "file" (file scope: ``name`` is
    the nearest named declaration above, or "")."""

    kind: str
    name: str
    line: int = 0  # 1-based line of the scope's start in its image; 0 when not known

    def describe(self) -> str:
        if self.kind == "function":
            return self.name if self.name.endswith(")") else f"{self.name}()"
        if self.kind == "macro":
            return f"macro {self.name}"
        if self.kind == "initializer":
            return f"the initializer of `{self.name}`"
        if self.kind == "type":
            return f"`{self.name}`"
        if self.kind == "switch":
            return f"the switch ({self.name})" if self.name not in ("", "?") else "a switch"
        if self.kind == "case":
            return self.name
        if self.kind == "member":
            return f"member {self.name}"
        return f"file scope after `{self.name}`" if self.name else "file scope"


CONTAINER_KINDS = ("function", "macro", "initializer", "type", "file")


@dataclass(frozen=True, slots=True)
class Scope:
    """Outermost to innermost: the container (function, macro body, initializer, type or file
    scope), then switch/case or member parts. ``conditions`` are the enclosing #if/#ifdef
    conditions (outermost first, include guards dropped); ``cases`` are the sibling case labels of
    the innermost switch."""

    parts: tuple[ScopePart, ...]
    conditions: tuple[str, ...] = ()
    cases: frozenset[str] = frozenset()

    @property
    def container(self) -> ScopePart:
        return self.parts[0] if self.parts else ScopePart("file", "")

    def innermost(self, kind: str) -> ScopePart | None:
        for part in reversed(self.parts):
            if part.kind == kind:
                return part
        return None

    @property
    def function_name(self) -> str | None:
        c = self.container
        return c.name if c.kind != "file" else None

    def describe(self) -> str:
        inner = [p for p in self.parts[1:] if p.kind in ("switch", "case", "member")]
        text = self.container.describe()
        switch = self.innermost("switch")
        if switch is not None:
            text = f"{switch.describe()} in {text}"
            case = self.innermost("case")
            if case is not None:
                text += f", under {case.name}"
        elif inner:
            members = [p.name for p in inner if p.kind == "member"]
            if members:
                text += f", member {''.join(members)}"
        if self.conditions:
            text += " (under #if " + " && ".join(self.conditions) + ")"
        return text


# Evidence, strongest first. A scope is only ever compared with a scope of the same or a
# comparable evidence level (never a parsed scope with a hunk-header name).
EVIDENCE_TREE = "tree"  # tree-sitter-c on a source image rebuilt from a tree the user gave
EVIDENCE_HUNK = "hunk"  # a definition visible in the hunk's own text above the change
EVIDENCE_HEADER = "header"  # the @@ header's section text (a hint: truncated, can name the previous definition)


@dataclass(slots=True)
class Placement:
    """Where one side's change block sits, and why we believe it."""

    side: str  # "upstream" or "backport"
    path: str
    patch_path: str
    patch_line: int
    hunk: int
    scope: Scope | None  # None: not known at any evidence level
    evidence: str | None  # EVIDENCE_* of ``scope``
    basis: str  # one sentence: what was read
    line: int | None = None  # line in the image (tree evidence only)
    image: str = "patch"  # "pre-image", "post-image" or "patch"
    located: str = ""  # "", or how the hunk was located in the tree ("offset +12", "fuzz 2")
    header_scope: Scope | None = None  # from the @@ header alone (low confidence)
    hunk_scope: Scope | None = None  # from the hunk text alone
    notes: list[str] = field(default_factory=list)

    @property
    def from_tree(self) -> bool:
        return self.evidence == EVIDENCE_TREE
