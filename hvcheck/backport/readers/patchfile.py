"""Read a patch (a diff, `git show`/`git log -p` output, one mail or an mbox of several) into
messages, files, hunks and change blocks.

One forward pass over the lines with one line of lookahead: each line is looked at a constant
number of times and, for a bare diff, never all held at once — a hunk keeps its lines as one string
— so time and memory are linear in the input (issue 19: 50,000 hunks in well under a second, peak
memory within 10x the input at MAX_PATCH_BYTES, MAX_HUNKS bounding the per-hunk overhead). Each
hunk is read on its own: a malformed or truncated hunk becomes a per-hunk problem and every other
hunk is still read. Repairs for what mail clients do to patches are made and reported: a blank
context line whose leading space was stripped, a hunk header or a long line wrapped onto the next
line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from hvcheck.backport.model import FilePatch, Hunk, Message, Patch, Problem
from hvcheck.backport.readers.mail import MessageText, read_messages, series_of, sniff
from hvcheck.errors import InputError, LimitExceeded
from hvcheck.inputs import read_capped

MAX_PATCH_BYTES = 32 << 20  # a 32 MiB patch is far beyond any real backport; refuse to go further
MAX_HUNKS = 100_000  # hunks in one patch: a per-structure budget (each costs ~1 KiB of bookkeeping in a check)
MAX_REPAIRS_REPORTED = 20  # per message: further repairs are counted, not listed
LINE_HEAD = 512  # header patterns are matched on a line's first characters only

_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)")
_HUNK_OPEN = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))?\s*$")  # wrapped before the closing @@
_GIT_NAMES = re.compile(r'diff --git "?a/(.+?)"? "?b/(.+?)"?$')
_GIT_NAMES_NOPREFIX = re.compile(r"diff --git (\S+) (\S+)$")
_EXTENDED = ("index ", "new file mode", "deleted file mode", "old mode", "new mode", "similarity index",
             "dissimilarity index", "rename from ", "rename to ", "copy from ", "copy to ")


def looks_like_mail(raw: bytes) -> bool:
    head = raw[:4096].lstrip(b"\r\n\t ")
    return head.startswith(b"From ") or bool(re.match(rb"[!-9;-~]+:[ \t]", head))


def _text_lines(text: str, crlf: bool) -> Iterator[tuple[str, int]]:
    """(line, input line number) of a bare diff, one at a time: no list of every line."""
    pos = 0
    no = 1
    n = len(text)
    while pos < n:
        end = text.find("\n", pos)
        if end < 0:
            end = n
        line = text[pos:end]
        if crlf and line.endswith("\r"):
            line = line[:-1]
        yield line, no
        no += 1
        pos = end + 1


def _message_lines(msg: MessageText) -> Iterator[tuple[str, int]]:
    origin = msg.origin
    if origin is None:
        base = msg.first_line
        for i, line in enumerate(msg.lines):
            yield line, base + i
    else:
        yield from zip(msg.lines, origin, strict=True)


def read_patch(path: str, text: str | None = None) -> Patch:
    """Parse a patch file (or the given text, labelled ``path``). Raises InputError when the input
    is unreadable, contains no diff, or none of its hunks can be read; anything less is recorded
    in ``problems`` and the rest is read."""
    if text is None:
        raw = read_capped(path, MAX_PATCH_BYTES, "patches")
        if b"\0" in raw[:8192] and b"diff " not in raw[:8192]:
            raise InputError(path, "binary file, not a patch")
        # Mail parts may use any charset: keep every byte (surrogateescape) until the part's own
        # charset is known. A bare diff is decoded once, invalid bytes replaced.
        text = raw.decode("utf-8", "surrogateescape" if looks_like_mail(raw) else "replace")
        del raw
    files: list[FilePatch] = []
    problems: list[Problem] = []
    model_messages: list[Message] = []
    budget = [MAX_HUNKS]
    bare = sniff(text)
    if bare is not None:  # a bare diff: streamed, the text is the only copy
        msg = bare
        parser = _DiffParser(path, msg, 0, budget)
        parser.run(_text_lines(text, "\r\n" in text[:65536] or "\r\n" in text[-4096:]))
        files, problems = parser.files, parser.problems
        model_messages.append(Message(0, None, None, 1, msg.refs, msg.how))
    else:
        holder = [text]
        del text  # read_messages takes the only reference and drops it once the text is split
        for n, mt in enumerate(read_messages(holder)):
            parser = _DiffParser(path, mt, n, budget)
            parser.run(_message_lines(mt))
            files.extend(parser.files)
            problems.extend(parser.problems)
            model_messages.append(Message(n, mt.subject, series_of(mt.subject), mt.first_line, mt.refs, mt.how))
            mt.lines = []  # the hunks hold what they need; free the rest now
    hunks = sum(len(fp.hunks) for fp in files)
    errors = [p for p in problems if p.severity == "error"]
    if not files and not errors:
        raise InputError(path, "no diff found (expected `diff --git`, or `---`/`+++` file headers followed by @@ hunks)")
    if hunks == 0 and errors:
        raise InputError(path, f"malformed diff: {errors[0].what}", line=errors[0].line)
    if hunks == 0 and not any(fp.binary or fp.git for fp in files):
        raise InputError(path, "no file changes found in the diff")
    return Patch(path, files, problems, model_messages)


class _Reader:
    """A forward-only line stream with one line of lookahead."""

    def __init__(self, items: Iterator[tuple[str, int]]) -> None:
        self._items = items
        self._ahead: tuple[str, int] | None = None

    def next(self) -> tuple[str, int] | None:
        if self._ahead is not None:
            item, self._ahead = self._ahead, None
            return item
        return next(self._items, None)

    def peek(self) -> tuple[str, int] | None:
        if self._ahead is None:
            self._ahead = next(self._items, None)
        return self._ahead

    def push(self, item: tuple[str, int]) -> None:
        """Give back the line just taken (the caller does not consume it)."""
        self._ahead = item


class _DiffParser:
    def __init__(self, path: str, msg: MessageText, index: int, budget: list[int]) -> None:
        self.path = path
        self.msg = msg
        self.index = index
        self.budget = budget  # hunks still allowed in this patch (shared by its messages)
        self.files: list[FilePatch] = []
        self.problems: list[Problem] = []
        self.current: FilePatch | None = None
        self.header_only = False  # inside a `diff --git` header, before its ---/+++ and hunks
        self.index_name: str | None = None  # from a quilt/svn `Index:` line
        self.repairs = 0
        self.hunk_count = 0  # hunks seen in the current file, readable or not: stable numbering

    def problem(self, no: int, what: str, severity: str = "error", hunk: int | None = None) -> None:
        fp = self.current
        self.problems.append(Problem(no, what, fp.path if fp else None, hunk, severity))

    def repair(self, no: int, what: str, hunk: int) -> None:
        self.repairs += 1
        if self.repairs <= MAX_REPAIRS_REPORTED:
            self.problem(no, what, "note", hunk)

    def run(self, items: Iterator[tuple[str, int]]) -> None:
        src = _Reader(items)
        while True:
            item = src.next()
            if item is None:
                break
            ln, no = item
            c = ln[:1]
            if c == "d" and ln.startswith("diff "):
                self._start_diff(no, ln)
            elif c == "I" and ln.startswith("Index: "):
                self.index_name = ln[7:].strip() or None
            elif c == "-" and ln.startswith("--- "):
                nxt = src.peek()
                if nxt is not None and nxt[0].startswith("+++ "):
                    src.next()
                    self._file_names(no, ln[4:], nxt[0][4:])
            elif c == "@" and ln.startswith("@@"):
                self._hunk(ln, no, src)
            elif self.current is not None and self.header_only:
                self._extended(ln)
            elif c == "B" and ln.startswith("Binary files ") and ln.endswith(" differ"):
                self._binary_plain(no, ln)
        if self.repairs > MAX_REPAIRS_REPORTED:
            self.problems.append(Problem(self.msg.first_line, f"{self.repairs - MAX_REPAIRS_REPORTED} further "
                                         "mail-client damage repairs not listed", None, None, "note"))

    # --- file headers --------------------------------------------------------------------------

    def _new_file(self, no: int, old: str | None, new: str | None, raw: tuple[str, ...], git: bool) -> FilePatch:
        fp = FilePatch(self.path, old, new, [], no, self.index, raw_names=raw, git=git)
        self.files.append(fp)
        self.current = fp
        self.hunk_count = 0
        return fp

    def _start_diff(self, no: int, ln: str) -> None:
        head = ln[:LINE_HEAD * 8]
        if head.startswith("diff --git "):
            m = _GIT_NAMES.match(head)
            if m:
                self._new_file(no, m.group(1), m.group(2), (f"a/{m.group(1)}", f"b/{m.group(2)}"), True)
            else:
                m2 = _GIT_NAMES_NOPREFIX.match(head)
                names = (m2.group(1), m2.group(2)) if m2 else (None, None)
                self._new_file(no, names[0], names[1], tuple(x for x in names if x), True)
            self.header_only = True
        elif head.startswith("diff --cc ") or head.startswith("diff --combined "):
            self.current = None
            self.problem(no, "combined diff of a merge commit (diff --cc) is not compared; give the merge's "
                             "diff against one parent")
        else:  # `diff -u a b`, `diff -urN dir1/f dir2/f`: names come from the ---/+++ lines
            self.current = None
            self.header_only = False

    def _extended(self, ln: str) -> None:
        fp = self.current
        assert fp is not None
        if ln.startswith("new file mode"):
            fp.old_path = None
        elif ln.startswith("deleted file mode"):
            fp.new_path = None
        elif ln.startswith("rename from "):
            fp.old_path = ln[12:].strip()
        elif ln.startswith("rename to "):
            fp.new_path = ln[10:].strip()
        elif ln == "GIT binary patch" or (ln.startswith("Binary files ") and ln.endswith(" differ")):
            fp.binary = True
        elif not ln.startswith(_EXTENDED):
            self.header_only = False

    def _binary_plain(self, no: int, ln: str) -> None:
        m = re.match(r"Binary files (\S+) and (\S+) differ", ln)
        if m:
            fp = self._new_file(no, _strip_name(m.group(1)), _strip_name(m.group(2)), (m.group(1), m.group(2)), False)
            fp.binary = True

    def _file_names(self, no: int, old_raw: str, new_raw: str) -> None:
        old = _strip_name(old_raw)
        new = _strip_name(new_raw)
        fp = self.current
        if fp is not None and fp.git and self.header_only and not fp.hunks:
            # the ---/+++ of a `diff --git` section: a/ and b/ are git's prefixes
            fp.old_path = _git_prefix(_git_prefix(old, "a/"), "b/") if old is not None else None
            fp.new_path = _git_prefix(_git_prefix(new, "b/"), "a/") if new is not None else None
            self.header_only = False
            return
        raw = tuple(x for x in (old_raw.split("\t")[0].strip(), new_raw.split("\t")[0].strip()) if x != "/dev/null")
        old_path, new_path = _canonical_pair(old, new, self.index_name)
        self._new_file(no, old_path, new_path, raw + ((self.index_name,) if self.index_name else ()), False)
        self.index_name = None
        self.header_only = False

    # --- hunks ---------------------------------------------------------------------------------

    def _hunk(self, first: str, header_no: int, src: _Reader) -> None:
        head = first[:LINE_HEAD * 8]
        m = _HUNK.match(head)
        if m is None:
            wrapped = _HUNK_OPEN.match(head)
            nxt = src.peek()
            if wrapped and nxt is not None and nxt[0].startswith("@@"):
                m = _HUNK.match(head.rstrip() + " " + nxt[0][:LINE_HEAD * 8])
                if m:
                    src.next()
            if m is None:
                if head.startswith("@@@"):
                    self.problem(header_no, "combined diff hunk (@@@) is not compared")
                else:
                    self.problem(header_no, f"not a hunk header: `{head[:60]}`")
                return
        fp = self.current
        if fp is None:
            self.problem(header_no, "hunk without a file header (---/+++ lines) above it")
            return
        self.hunk_count += 1
        index = self.hunk_count
        if self.budget[0] <= 0:
            raise LimitExceeded(self.path, f"more than {MAX_HUNKS} hunks in one patch (the MAX_HUNKS limit, "
                                           "docs/limits.md)", header_no)
        self.budget[0] -= 1
        header = m.string  # the @@ line itself (re-joined when a client wrapped it before the closing @@)
        old_len = int(m.group(2)) if m.group(2) is not None else 1
        new_len = int(m.group(4)) if m.group(4) is not None else 1
        section = m.group(5).strip()
        nxt = src.peek()
        if (old_len or new_len) and nxt is not None and nxt[0] and nxt[0][0] not in " +-\\@" and \
                not nxt[0].startswith("diff ") and len(section) > 20:
            # a mail client wrapped the long header: its continuation is not a diff line
            src.next()
            header = f"{header.rstrip()} {nxt[0].strip()}"
            self.repair(nxt[1], f"hunk {index} of {fp.path}: @@ header wrapped onto the next line; joined", index)
        ol, nl = old_len, new_len
        body: list[str] = []
        origin: list[int] = []
        expect = header_no + 1  # the input line the next body line has when lines are consecutive
        consecutive = True
        take = src.next  # the hot loop: one call per line
        while ol > 0 or nl > 0:
            item = take()
            if item is None:
                return self._bad_hunk(header_no, index, src, f"hunk {index} of {fp.path} is truncated: the input "
                                      f"ends {ol} old / {nl} new line(s) short of the @@ header's counts")
            ln, no = item
            c = ln[:1]
            if c == " " and ol > 0 and nl > 0:
                ol -= 1
                nl -= 1
            elif c == "-" and ol > 0:
                ol -= 1
            elif c == "+" and nl > 0:
                nl -= 1
            elif c == "" and ol > 0 and nl > 0:
                ol -= 1
                nl -= 1
                ln = " "  # the mail client stripped the context line's space
            elif c == "\\":
                consecutive = False
                continue
            elif c == " ":
                src.push(item)
                return self._bad_hunk(header_no, index, src, f"hunk {index} of {fp.path}: context line after "
                                      "one side's count is used up (wrong @@ counts?)")
            elif c in "+-" or ln.startswith(("@@", "diff ")) or c == "":
                src.push(item)
                return self._bad_hunk(header_no, index, src, f"hunk {index} of {fp.path} ends early: line {no} "
                                      f"does not fit the @@ header's counts ({ol} old / {nl} new line(s) still "
                                      "expected); truncated or hand-edited")
            elif body:
                # not a diff line: a long line the mail client wrapped; join it to the previous one
                body[-1] = body[-1] + " " + ln.strip()
                self.repair(no, f"hunk {index} of {fp.path}: line {no} is not a diff line (wrapped by a mail "
                                "client?); joined to the line above", index)
                consecutive = False
                continue
            else:
                src.push(item)
                return self._bad_hunk(header_no, index, src, f"hunk {index} of {fp.path}: line {no} is not a diff "
                                      "line")
            if no != expect:
                consecutive = False
            expect = no + 1
            body.append(ln)
            origin.append(no)
        fp.hunks.append(Hunk(index, header, "\n".join(body), header_no, None if consecutive else origin))
        nxt = src.peek()
        if nxt is not None and nxt[0][:1] in ("+", "-") and not nxt[0].startswith(("--- ", "+++ ")) and \
                nxt[0].rstrip() not in ("--", "-- "):
            self.problem(nxt[1], f"hunk {index} of {fp.path}: diff lines continue after the @@ header's counts "
                                 "(wrong counts?); only the counted lines were read", "note", index)

    def _bad_hunk(self, header_no: int, index: int, src: _Reader, what: str) -> None:
        """Record the hunk as unreadable and skip to the next line that can start something."""
        self.problem(header_no, what, "error", index)
        while True:
            item = src.peek()
            if item is None or item[0].startswith(("@@", "diff ", "--- ")):
                return
            src.next()


def _strip_name(name: str) -> str | None:
    name = name.split("\t")[0].rstrip()
    # GNU diff puts the timestamp after a tab; some tools use two spaces
    name = re.sub(r"\s{2,}\d{4}-\d\d-\d\d .*$", "", name).strip()
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        name = name[1:-1]
    if name in ("/dev/null", ""):
        return None
    return name


def _git_prefix(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


def _canonical_pair(old: str | None, new: str | None, index_name: str | None) -> tuple[str | None, str | None]:
    """Paths of a non-git diff as `patch -p1` would see them: `a/`/`b/`, or quilt's
    `linux.orig/` / `linux/` (first components differ), are dropped; an `Index:` line names the
    file outright. Trees probe other strip levels themselves (readers.trees)."""
    if index_name and old is not None and new is not None:
        return index_name, index_name
    if old is not None and new is not None:
        o, nw = old.split("/", 1), new.split("/", 1)
        if len(o) == 2 and len(nw) == 2 and (o[0] != nw[0] or (o[0], nw[0]) == ("a", "b")):
            return o[1], nw[1]
        if new.endswith(".orig") is False and old == new + ".orig":
            return new, new
        return old, new
    one = old if old is not None else new
    assert one is not None
    if index_name:
        return (index_name, None) if old is not None else (None, index_name)
    parts = one.split("/", 1)
    if len(parts) == 2 and parts[0] in ("a", "b"):
        one = parts[1]
    return (one, None) if old is not None else (None, one)


def message_files(patch: Patch, message: int) -> list[FilePatch]:
    return [fp for fp in patch.files if fp.message == message]
