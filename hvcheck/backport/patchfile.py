"""Read a patch (git format-patch mail, `git diff`, plain `diff -u`, quilt) into files, hunks and
change blocks.

unidiff does the parsing, but it raises on the first broken hunk and loses everything else. So the
text is cut into per-file sections first and each section is parsed alone: one malformed file
becomes a reported problem, the other files are still compared. Binary sections are recognised
and reported as not analysed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcheck.errors import InputError
from hvcheck.inputs import read_capped

MAX_PATCH_BYTES = 32 << 20  # a 32 MiB patch is far beyond any real backport; refuse to go further

C_SUFFIXES = (".c", ".h")


@dataclass
class Line:
    kind: str  # "+", "-" or " "
    text: str  # without the trailing newline
    old_no: int | None
    new_no: int | None
    patch_line: int  # 1-based line in the patch file


@dataclass
class Hunk:
    index: int  # 1-based, within its file
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str  # the text after the second @@ (git's guess of the enclosing function)
    lines: list[Line]
    patch_line: int

    def old_side(self) -> list[str]:
        return [ln.text for ln in self.lines if ln.kind != "+"]

    def new_side(self) -> list[str]:
        return [ln.text for ln in self.lines if ln.kind != "-"]


@dataclass
class FilePatch:
    patch_path: str  # the patch file this came from
    old_path: str | None  # None for a created file
    new_path: str | None  # None for a deleted file
    hunks: list[Hunk]
    patch_line: int
    binary: bool = False

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or "?"

    @property
    def is_c(self) -> bool:
        return self.path.endswith(C_SUFFIXES)

    @property
    def renamed(self) -> bool:
        return self.old_path is not None and self.new_path is not None and self.old_path != self.new_path


@dataclass
class Block:
    """A maximal run of removed/added lines inside one hunk: the unit that is paired."""

    file: FilePatch
    hunk: Hunk
    removed: list[Line]
    added: list[Line]
    before: list[Line] = field(default_factory=list)  # context lines above, inside the hunk

    @property
    def patch_line(self) -> int:
        return (self.removed or self.added)[0].patch_line

    def label(self) -> str:
        return f"{self.file.patch_path}:{self.patch_line} (hunk {self.hunk.index} of {self.file.path})"


@dataclass
class Patch:
    path: str
    files: list[FilePatch]
    problems: list[tuple[int, str]]  # (line, what) for sections that could not be parsed
    subject: str | None = None

    def blocks(self) -> list[Block]:
        out: list[Block] = []
        for fp in self.files:
            if fp.binary:
                continue
            for hunk in fp.hunks:
                out.extend(split_blocks(fp, hunk))
        return out


def split_blocks(fp: FilePatch, hunk: Hunk) -> list[Block]:
    blocks: list[Block] = []
    context: list[Line] = []
    current: Block | None = None
    for ln in hunk.lines:
        if ln.kind == " ":
            if current is not None:
                blocks.append(current)
                current = None
            context.append(ln)
            continue
        if current is None:
            current = Block(fp, hunk, [], [], before=list(context))
        (current.removed if ln.kind == "-" else current.added).append(ln)
    if current is not None:
        blocks.append(current)
    return blocks


_SECTION_START = re.compile(r"^diff (--git |-\S+ |-r )?")
_BINARY = re.compile(r"^(GIT binary patch|Binary files .* differ)$")


def _sections(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Cut the patch into per-file sections: (0-based start line, lines). Text before the first
    section (mail headers, commit message, diffstat) is dropped."""
    starts: list[int] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _SECTION_START.match(line):
            starts.append(i)
        elif (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")
              and not (starts and _SECTION_START.match(lines[starts[-1]]) and _header_only(lines, starts[-1], i))):
            starts.append(i)
        i += 1
    out = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        out.append((start, lines[start:end]))
    return out


def _header_only(lines: list[str], start: int, i: int) -> bool:
    """True when lines[start:i] are only the extended header of a `diff --git` section, i.e. the
    `---` at i belongs to that section rather than starting a new one."""
    return all(not ln.startswith("@@") for ln in lines[start + 1:i])


def _strip_prefix(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.split("\t")[0].strip()
    if name == "/dev/null":
        return None
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name


def _git_names(header: str) -> tuple[str | None, str | None]:
    m = re.match(r"^diff --git a/(\S+) b/(\S+)", header)
    return (m.group(1), m.group(2)) if m else (None, None)


def _subject(lines: list[str]) -> str | None:
    for line in lines[:200]:
        if line.startswith("Subject:"):
            return line[len("Subject:"):].strip()
    return None


def read_patch(path: str, text: str | None = None) -> Patch:
    """Parse a patch file (or the given text, labelled ``path``). Raises InputError when the
    input is unreadable or contains no diff at all; a single broken file section is recorded in
    ``problems`` instead."""
    if text is None:
        raw = read_capped(path, MAX_PATCH_BYTES, "patches")
        if b"\0" in raw[:8192] and b"diff " not in raw[:8192]:
            raise InputError(path, "binary file, not a patch")
        text = raw.decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    sections = _sections(lines)
    if not sections:
        raise InputError(path, "no diff found (expected `diff --git`, or `---`/`+++` file headers followed by @@ hunks)")
    files: list[FilePatch] = []
    problems: list[tuple[int, str]] = []
    for start, sec in sections:
        try:
            fp = _parse_section(path, start, sec)
        except _SectionError as exc:
            problems.append((start + 1, str(exc)))
            continue
        if fp is not None:
            files.append(fp)
    if not files and problems:
        line, what = problems[0]
        raise InputError(path, f"malformed diff: {what}", line=line)
    if not files:
        raise InputError(path, "no file changes found in the diff")
    return Patch(path, files, problems, _subject(lines))


class _SectionError(Exception):
    pass


def _parse_section(path: str, start: int, sec: list[str]) -> FilePatch | None:
    import unidiff  # lazy: only `hvcheck backport` needs it

    git_old, git_new = _git_names(sec[0])
    if any(_BINARY.match(ln) for ln in sec):
        return FilePatch(path, git_old, git_new, [], start + 1, binary=True)
    body = "\n".join(sec)
    if not body.endswith("\n"):
        body += "\n"
    try:
        ps = unidiff.PatchSet(body)
    except unidiff.UnidiffParseError as exc:
        raise _SectionError(f"{git_new or _guess_name(sec)}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - unidiff raises assorted errors on odd input
        raise _SectionError(f"{git_new or _guess_name(sec)}: unparsable diff section ({exc})") from None
    if len(ps) == 0:
        if git_old is not None:  # pure rename or mode change: nothing to compare
            return None
        raise _SectionError(f"{_guess_name(sec)}: no hunks")
    pf = ps[0]
    old_path = _strip_prefix(pf.source_file)
    new_path = _strip_prefix(pf.target_file)
    # unidiff keeps whatever prefix the diff used; git's own header is authoritative when present
    if git_old and old_path is not None:
        old_path = git_old
    if git_new and new_path is not None:
        new_path = git_new
    if pf.is_binary_file:
        return FilePatch(path, old_path, new_path, [], start + 1, binary=True)
    hunks: list[Hunk] = []
    for n, h in enumerate(pf, start=1):
        hl = []
        for ln in h:
            if ln.line_type not in ("+", "-", " "):
                continue  # "\ No newline at end of file"
            hl.append(Line(ln.line_type, ln.value.rstrip("\n"), ln.source_line_no, ln.target_line_no,
                           start + ln.diff_line_no))
        header_line = hl[0].patch_line - 1 if hl else start + 1
        hunks.append(Hunk(n, h.source_start, h.source_length, h.target_start, h.target_length,
                          (h.section_header or "").strip(), hl, header_line))
    return FilePatch(path, old_path, new_path, hunks, start + 1)


def _guess_name(sec: list[str]) -> str:
    for ln in sec:
        if ln.startswith("+++ "):
            return _strip_prefix(ln[4:]) or ln[4:].strip()
    return sec[0][:80]
