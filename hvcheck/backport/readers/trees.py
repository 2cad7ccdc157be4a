"""Source trees (a directory, a git revision) and the pre-/post-images of each patched file.

A tree may hold a file before or after the patch; which one is found per file by locating the
hunks, and the other image is derived by applying (or reverse-applying) them in memory. Names are
tried as `patch -pN` would (N = 0..3, plus quilt's `Index:` name), so `linux.orig/`, `a/` or an
extra directory level does not make a tree silently useless. Each hunk is located exactly, then
with fuzz (context lines dropped from its ends, as GNU patch does); how it was located is kept, and
hunks that cannot be located are named so the user hears that the tree does not match the patch.
"""

from __future__ import annotations

import bisect
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.backport.model import FilePatch, Hunk
from hvcheck.errors import InputError, LimitExceeded
from hvcheck.inputs import read_capped

MAX_FILE_BYTES = 16 << 20
GIT_TIMEOUT = 60
MAX_FUZZ = 2  # context lines dropped from each end of a hunk when it does not match exactly (GNU patch's default)
MAX_STRIP = 3  # leading path components tried (patch -p0 .. -p3)


class Tree:
    label: str = "tree"

    def read(self, path: str) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError

    def prefetch(self, paths: list[str]) -> None:
        """Read many files at once where that is cheaper (git); optional."""


class DirTree(Tree):
    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.label = f"directory {root}"

    def read(self, path: str) -> str | None:
        target = (self.root / path).resolve()
        try:
            target.relative_to(self.root.resolve())
        except ValueError:
            return None  # a patch path like ../../etc/passwd must not escape the tree
        if not target.is_file():
            return None  # absent (or not a file): the hunk's image cannot be derived from this tree
        try:
            raw = read_capped(target, MAX_FILE_BYTES, "source files read from a tree")
        except LimitExceeded:
            raise
        except InputError:
            return None
        return raw.decode("utf-8", errors="replace")


class GitTree(Tree):
    """Files of one revision, read through `git cat-file --batch` (one process for many files)."""

    def __init__(self, repo: str, rev: str, why: str = "") -> None:
        self.repo = repo
        self.rev = rev
        self.label = f"git {rev[:12]} in {repo}" + (f" ({why})" if why else "")
        self._cache: dict[str, str | None] = {}

    def prefetch(self, paths: list[str]) -> None:
        want = [p for p in dict.fromkeys(paths) if p not in self._cache and "\n" not in p]
        if not want:
            return
        query = "".join(f"{self.rev}:{p}\n" for p in want).encode("utf-8", "surrogateescape")
        proc = run_git(self.repo, ["cat-file", "--batch"], check=False, stdin=query)
        out = proc.stdout
        pos = 0
        for p in want:
            nl = out.find(b"\n", pos)
            if nl < 0:
                self._cache[p] = None
                continue
            header = out[pos:nl].split()
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                if size > MAX_FILE_BYTES:
                    raise InputError(f"{self.rev}:{p}", f"source file larger than {MAX_FILE_BYTES >> 20} MiB")
                self._cache[p] = out[nl + 1:nl + 1 + size].decode("utf-8", errors="replace")
                pos = nl + 1 + size + 1
            else:
                self._cache[p] = None  # "<rev>:<path> missing" or a tree
                pos = nl + 1

    def read(self, path: str) -> str | None:
        if path not in self._cache:
            self.prefetch([path])
        return self._cache.get(path)


class EmptyTree(Tree):
    label = "empty tree (root commit)"

    def read(self, path: str) -> str | None:
        return None


def run_git(repo: str, args: list[str], check: bool = True,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(["git", "-C", repo, *args], capture_output=True, timeout=GIT_TIMEOUT, input=stdin,
                              env={**os.environ, "GIT_PAGER": "cat", "LC_ALL": "C"})
    except FileNotFoundError:
        raise InputError(repo, "git is not installed (needed for --repo and git revisions)") from None
    except subprocess.TimeoutExpired:
        raise InputError(repo, f"git {' '.join(args[:2])} took longer than {GIT_TIMEOUT} s") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(repo, f"git {' '.join(args)}: {msg[-1] if msg else 'failed'}")
    return proc


def is_git_repo(path: str) -> bool:
    """A repository's top directory (or a bare repository) — not any directory inside a work tree,
    which is a plain source tree to the user who names it."""
    if not os.path.isdir(path):
        return False
    bare = run_git(path, ["rev-parse", "--is-bare-repository"], check=False)
    if bare.returncode != 0:
        return False
    if bare.stdout.decode("utf-8", "replace").strip() == "true":
        git_dir = run_git(path, ["rev-parse", "--absolute-git-dir"], check=False).stdout.decode("utf-8", "replace")
        return os.path.realpath(git_dir.strip()) == os.path.realpath(path)
    top = run_git(path, ["rev-parse", "--show-toplevel"], check=False).stdout.decode("utf-8", "replace").strip()
    return bool(top) and os.path.realpath(top) == os.path.realpath(path)


def resolve_commit(repo: str, rev: str) -> str | None:
    proc = run_git(repo, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def first_parent(repo: str, sha: str) -> str | None:
    parents = run_git(repo, ["rev-list", "--parents", "-n", "1", sha]).stdout.decode().split()[1:]
    return parents[0] if parents else None


def resolve_tree(spec: str, repo: str | None) -> Tree:
    """A directory, or a git revision in ``repo`` (default: the current directory)."""
    if os.path.isdir(spec):
        return DirTree(spec)
    where = repo or "."
    sha = resolve_commit(where, spec)
    if sha is None:
        raise InputError(spec, f"neither a directory nor a git revision in {os.path.abspath(where)}")
    return GitTree(where, sha)


# --- locating hunks --------------------------------------------------------------------------------

def norm(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Located:
    at: int  # 0-based index in the searched image of the first matched line
    fuzz: int  # context lines dropped from each end to match
    offset: int  # lines away from where the @@ header says
    # the lines the hunk replaced: [pre_at, pre_at + pre_len) of the pre-image became
    # [post_at, post_at + post_len) of the post-image (0-based, context trimmed by fuzz)
    pre_at: int = 0
    pre_len: int = 0
    post_at: int = 0
    post_len: int = 0


def map_forward(located: dict[int, Located], x: int) -> int | None:
    """0-based pre-image line → post-image line; None when a hunk replaced it."""
    delta = 0
    for loc in sorted(located.values(), key=lambda loc: loc.pre_at):
        if x < loc.pre_at:
            break
        if x < loc.pre_at + loc.pre_len:
            return None
        delta += loc.post_len - loc.pre_len
    return x + delta


def map_back(located: dict[int, Located], y: int) -> int | None:
    """0-based post-image line → pre-image line; None when a hunk added it."""
    delta = 0
    for loc in sorted(located.values(), key=lambda loc: loc.post_at):
        if y < loc.post_at:
            break
        if y < loc.post_at + loc.post_len:
            return None
        delta += loc.pre_len - loc.post_len
    return y + delta


class _Finder:
    """Where a run of lines occurs in one image: candidates come from an index of line →
    positions, so locating every hunk of a large patch stays linear. Lines are compared stripped
    (C speed); only a hunk that does not match that way is retried with inner whitespace folded."""

    def __init__(self, lines: list[str]) -> None:
        self.raw = lines
        self.modes: dict[bool, tuple[list[str], dict[str, list[int]]]] = {}

    def _mode(self, folded: bool) -> tuple[list[str], dict[str, list[int]]]:
        if folded not in self.modes:
            keyed = [norm(x) for x in self.raw] if folded else [x.strip() for x in self.raw]
            index: dict[str, list[int]] = {}
            for i, ln in enumerate(keyed):
                if ln:
                    index.setdefault(ln, []).append(i)
            self.modes[folded] = (keyed, index)
        return self.modes[folded]

    def find(self, want: list[str], expected: int, lower: int) -> int | None:
        """0-based position >= lower where the lines ``want`` occur, nearest to ``expected``."""
        stripped = [x.strip() for x in want]
        if lower <= expected and any(stripped) and \
                [x.strip() for x in self.raw[expected:expected + len(want)]] == stripped:
            return expected  # where the header says (the common case): no index of the image needed
        found = self._find(stripped, expected, lower, False)
        if found is None:
            found = self._find([norm(x) for x in want], expected, lower, True)
        return found

    def _find(self, want: list[str], expected: int, lower: int, folded: bool) -> int | None:
        lines, index = self._mode(folded)
        n = len(want)
        if n == 0:
            return max(lower, min(expected, len(lines)))
        anchor = next((k for k, w in enumerate(want) if w), None)
        if anchor is None:  # only blank lines: take the expected position if it fits
            if lower <= expected <= len(lines) - n and lines[expected:expected + n] == want:
                return expected
            return None
        positions = index.get(want[anchor], [])
        best = None
        start = bisect.bisect_left(positions, lower + anchor)
        for p in positions[start:]:
            i = p - anchor
            if i + n > len(lines):
                break
            if lines[i:i + n] == want and (best is None or abs(i - expected) < abs(best - expected)):
                best = i
            elif best is not None and i > expected:
                break
        return best


def _trim(h: Hunk, fuzz: int) -> tuple[int, int]:
    """How many context lines to drop at the start and at the end for fuzz ``fuzz``."""
    lead = 0
    for ln in h.lines:
        if ln[0] != " ":
            break
        lead += 1
    trail = 0
    for ln in reversed(h.lines):
        if ln[0] != " ":
            break
        trail += 1
    return min(fuzz, lead), min(fuzz, trail)


def apply_hunks(text: str, hunks: list[Hunk], forward: bool, finder: _Finder | None = None
                ) -> tuple[str, dict[int, int], dict[int, int], dict[int, Located], list[int]]:
    """Apply (forward) or reverse-apply the hunks to ``text``. Returns the other image, the per-hunk
    shift of old and new line numbers, how each hunk was located, and the hunks that could not be
    located (those are left out of the other image)."""
    src = text.split("\n")
    if finder is None:
        finder = _Finder(src)
    out: list[str] = []
    pos = 0
    drift = 0
    old_shift: dict[int, int] = {}
    new_shift: dict[int, int] = {}
    located: dict[int, Located] = {}
    missing: list[int] = []
    for h in hunks:
        if not h.lines:
            continue
        start, length = (h.old_start, h.old_len) if forward else (h.new_start, h.new_len)
        header_at = start if length == 0 else start - 1
        at = None
        lead = trail = 0
        for fuzz in range(0, MAX_FUZZ + 1):
            lead, trail = _trim(h, fuzz)
            if fuzz and (lead, trail) == _trim(h, fuzz - 1):
                continue
            body = h.lines[lead:len(h.lines) - trail]
            from_lines = [ln[1:] for ln in body if ln[0] != ("+" if forward else "-")]
            at = finder.find(from_lines, header_at + drift + lead, pos)
            if at is not None:
                break
        if at is None:
            missing.append(h.index)
            continue
        body = h.lines[lead:len(h.lines) - trail]
        from_lines = [ln[1:] for ln in body if ln[0] != ("+" if forward else "-")]
        to_lines = [ln[1:] for ln in body if ln[0] != ("-" if forward else "+")]
        out.extend(src[pos:at])
        to_start = len(out)
        out.extend(to_lines)
        pos = at + len(from_lines)
        first_at = at - lead  # where the untrimmed hunk's first line is (or would be)
        drift = first_at - header_at
        if forward:
            located[h.index] = Located(first_at, max(lead, trail), drift, at, len(from_lines), to_start, len(to_lines))
        else:
            located[h.index] = Located(first_at, max(lead, trail), drift, to_start, len(to_lines), at, len(from_lines))
        from_first = first_at + 1
        to_first = to_start - lead + 1
        if forward:
            old_shift[h.index] = from_first - h.old_start
            new_shift[h.index] = to_first - h.new_start
        else:
            new_shift[h.index] = from_first - h.new_start
            old_shift[h.index] = to_first - h.old_start
        if length == 0:  # the header's start names the line before an insertion
            if forward:
                old_shift[h.index] += 1
            else:
                new_shift[h.index] += 1
    out.extend(src[pos:])
    return "\n".join(out), old_shift, new_shift, located, missing


@dataclass
class FileImages:
    """Both images of one patched file and where each hunk actually sits in them."""

    pre: str | None
    post: str | None
    old_shift: dict[int, int] = field(default_factory=dict)  # hunk index -> actual - header line
    new_shift: dict[int, int] = field(default_factory=dict)
    state: str = ""  # "pre-image", "post-image", "created", ... (what the tree held)
    problem: str | None = None  # why no image could be built (then pre/post are None)
    located: dict[int, Located] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)  # hunks the tree's copy does not match
    tree_path: str = ""  # the name under which the tree had the file
    tree_label: str = ""

    def hunk_ok(self, index: int) -> bool:
        return self.problem is None and index not in self.missing


def candidate_names(fp: FilePatch) -> list[str]:
    """Names to try in a tree, most likely first: the patch's paths, then its raw names with 0..3
    leading components stripped (patch -pN)."""
    names: list[str] = []
    for n in (fp.new_path, fp.old_path):
        if n:
            names.append(n)
    for raw in fp.raw_names:
        parts = raw.split("/")
        for strip in range(0, min(MAX_STRIP, len(parts) - 1) + 1):
            names.append("/".join(parts[strip:]))
        if raw.endswith(".orig"):
            names.append(raw[:-5])
    return [n for n in dict.fromkeys(names) if n and not n.startswith("/") and ".." not in n.split("/")]


def _read_first(tree: Tree, names: list[str]) -> tuple[str, str] | None:
    for name in names:
        text = tree.read(name)
        if text is not None:
            return name, text
    return None


def build_images(fp: FilePatch, pre_tree: Tree | None, post_tree: Tree | None) -> FileImages:
    """Images of ``fp`` from a pre-image tree and/or a post-image tree (either may be None; a
    single tree given for both is probed for which state it holds)."""
    if fp.old_path is None:  # created by the patch: the post-image is the hunk itself
        post = "\n".join(line for h in fp.hunks for line in h.new_side())
        zero = {h.index: 0 for h in fp.hunks}
        return FileImages("", post, zero, dict(zero), "created by the patch")
    names = candidate_names(fp)
    same = pre_tree is post_tree
    candidates: list[tuple[str, str, str, str]] = []  # (claimed state, name, text, tree label)
    for tree, state in ((pre_tree, "pre"), (post_tree, "post")):
        if tree is None or (state == "post" and same):
            continue
        found = _read_first(tree, names)
        if found is not None:
            candidates.append(("either" if same else state, found[0], found[1], tree.label))
    labels = " / ".join(t.label for t in dict.fromkeys(t for t in (pre_tree, post_tree) if t))
    if not candidates:
        tried = ", ".join(names[:6]) + (" ..." if len(names) > 6 else "")
        return FileImages(None, None, problem=f"{fp.path} is not in {labels} (tried {tried})")
    best: FileImages | None = None
    best_key: tuple[int, int, int] | None = None
    for state, name, text, label in candidates:
        finder = _Finder(text.split("\n"))
        for forward in ((True, False) if state == "either" else ((state == "pre"),)):
            other, old_shift, new_shift, located, missing = apply_hunks(text, fp.hunks, forward, finder)
            key = (len(missing), sum(loc.fuzz for loc in located.values()),
                   sum(abs(loc.offset) for loc in located.values()))
            img = (FileImages(text, other, old_shift, new_shift, "pre-image", None, located, missing, name, label)
                   if forward else
                   FileImages(other, text, old_shift, new_shift, "post-image", None, located, missing, name, label))
            if best_key is None or key < best_key:
                best, best_key = img, key
            if best_key == (0, 0, 0):
                break  # every hunk where its header says: no other reading can do better (ties keep the first)
        if best_key == (0, 0, 0):
            break
    assert best is not None
    readable = [h.index for h in fp.hunks if h.lines]
    if readable and len(best.missing) == len(readable):
        return FileImages(None, None, problem=f"{fp.path}: the copy in {best.tree_label} ({best.tree_path}) matches "
                                              "neither side of the patch — none of its hunks could be located, even "
                                              f"with fuzz {MAX_FUZZ} (another revision?)",
                          tree_path=best.tree_path, tree_label=best.tree_label, missing=best.missing)
    return best
