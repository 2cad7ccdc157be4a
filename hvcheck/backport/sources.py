"""Source trees (a directory or a git revision) and the pre-/post-images of each patched file.

A tree may hold a file before or after the patch; which one is detected per file by locating the
hunks, and the other image is derived by applying (or reverse-applying) the hunks in memory. The
hunks' located positions give exact line numbers in both images even when the tree has drifted
from the line numbers in the `@@` headers.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.backport.patchfile import FilePatch, Hunk
from hvcheck.errors import InputError, LimitExceeded
from hvcheck.inputs import read_capped

MAX_FILE_BYTES = 16 << 20
GIT_TIMEOUT = 60


class Tree:
    label: str

    def read(self, path: str) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError


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
    def __init__(self, repo: str, rev: str) -> None:
        self.repo = repo
        self.rev = rev
        self.label = f"git {rev} in {repo}"

    def read(self, path: str) -> str | None:
        proc = run_git(self.repo, ["show", f"{self.rev}:{path}"], check=False)
        if proc.returncode != 0:
            return None
        if len(proc.stdout) > MAX_FILE_BYTES:
            raise InputError(f"{self.rev}:{path}", f"source file larger than {MAX_FILE_BYTES >> 20} MiB")
        return proc.stdout.decode("utf-8", errors="replace")


class EmptyTree(Tree):
    label = "empty tree (root commit)"

    def read(self, path: str) -> str | None:
        return None


def run_git(repo: str, args: list[str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(["git", "-C", repo, *args], capture_output=True, timeout=GIT_TIMEOUT,
                              env={**os.environ, "GIT_PAGER": "cat", "LC_ALL": "C"})
    except FileNotFoundError:
        raise InputError(repo, "git is not installed (needed for --repo and git revisions)") from None
    except subprocess.TimeoutExpired:
        raise InputError(repo, f"git {' '.join(args[:2])} took longer than {GIT_TIMEOUT} s") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(repo, f"git {' '.join(args)}: {msg[-1] if msg else 'failed'}")
    return proc


def resolve_tree(spec: str, repo: str | None) -> Tree:
    """A directory, or a git revision in ``repo`` (default: the current directory)."""
    if os.path.isdir(spec):
        return DirTree(spec)
    where = repo or "."
    proc = run_git(where, ["rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"], check=False)
    if proc.returncode != 0:
        raise InputError(spec, f"neither a directory nor a git revision in {os.path.abspath(where)}")
    return GitTree(where, proc.stdout.decode().strip())


def _norm(text: str) -> str:
    return " ".join(text.split())


@dataclass
class FileImages:
    """Both images of one patched file and where each hunk actually sits in them."""

    pre: str | None
    post: str | None
    old_shift: dict[int, int] = field(default_factory=dict)  # hunk index -> actual - header line
    new_shift: dict[int, int] = field(default_factory=dict)
    state: str = ""  # "pre-image", "post-image", "both", "created", "deleted"
    problem: str | None = None  # why the images could not be built (then pre/post are None)


def _locate(lines_norm: list[str], want: list[str], expected: int, lower: int) -> int | None:
    """0-based index >= lower where ``want`` (normalised) occurs, nearest to ``expected``."""
    n = len(want)
    if n == 0:
        return max(lower, min(expected, len(lines_norm)))
    if 0 <= expected and expected >= lower and lines_norm[expected:expected + n] == want:
        return expected
    first = want[0]
    best = None
    for i in range(lower, len(lines_norm) - n + 1):
        if lines_norm[i] == first and lines_norm[i:i + n] == want:
            if best is None or abs(i - expected) < abs(best - expected):
                best = i
            elif i > expected:
                break
    return best


def apply_hunks(text: str, hunks: list[Hunk], forward: bool,
                src_norm: list[str] | None = None) -> tuple[str, dict[int, int], dict[int, int]] | None:
    """Apply (forward) or reverse-apply the hunks to ``text``. Returns the other image and the
    per-hunk shift of old and new line numbers, or None when a hunk cannot be located."""
    src = text.split("\n")
    if src_norm is None:
        src_norm = [_norm(s) for s in src]
    out: list[str] = []
    pos = 0
    drift = 0
    old_shift: dict[int, int] = {}
    new_shift: dict[int, int] = {}
    for h in hunks:
        from_lines = h.old_side() if forward else h.new_side()
        to_lines = h.new_side() if forward else h.old_side()
        start, length = (h.old_start, h.old_len) if forward else (h.new_start, h.new_len)
        expected = (start if length == 0 else start - 1) + drift
        at = _locate(src_norm, [_norm(s) for s in from_lines], expected, pos)
        if at is None:
            return None
        out.extend(src[pos:at])
        to_start = len(out)
        out.extend(to_lines)
        pos = at + len(from_lines)
        drift = at - (start if length == 0 else start - 1)
        from_first = at + 1
        to_first = to_start + 1
        if forward:
            old_shift[h.index] = from_first - h.old_start
            new_shift[h.index] = to_first - h.new_start
        else:
            new_shift[h.index] = from_first - h.new_start
            old_shift[h.index] = to_first - h.old_start
        if length == 0:  # header start names the line before an insertion
            if forward:
                old_shift[h.index] += 1
            else:
                new_shift[h.index] += 1
    out.extend(src[pos:])
    return "\n".join(out), old_shift, new_shift


def build_images(fp: FilePatch, pre_tree: Tree | None, post_tree: Tree | None) -> FileImages:
    """Images of ``fp`` from a pre-image tree and/or a post-image tree (either may be None; a
    single tree given for both is probed for which state it holds)."""
    if fp.old_path is None:  # created by the patch: the post-image is the hunk itself
        post = "\n".join(line for h in fp.hunks for line in h.new_side())
        return FileImages("", post, {h.index: 0 for h in fp.hunks}, {h.index: 0 for h in fp.hunks}, "created")
    candidates: list[tuple[str, str]] = []  # (claimed state, text)
    seen: set[int] = set()
    for tree, state in ((pre_tree, "pre"), (post_tree, "post")):
        if tree is None or id(tree) in seen and state == "post" and pre_tree is post_tree:
            continue
        seen.add(id(tree))
        names = [fp.old_path, fp.new_path] if state == "pre" else [fp.new_path, fp.old_path]
        for name in dict.fromkeys(n for n in names if n):
            text = tree.read(name)
            if text is not None:
                candidates.append((state if pre_tree is not post_tree else "either", text))
                break
    if not candidates:
        trees = " / ".join(t.label for t in dict.fromkeys(t for t in (pre_tree, post_tree) if t))
        return FileImages(None, None, problem=f"{fp.path} not found in {trees}")
    best: FileImages | None = None
    best_cost = None
    for state, text in candidates:
        text_norm = [_norm(s) for s in text.split("\n")]
        for forward in ((True, False) if state == "either" else ((state == "pre"),)):
            res = apply_hunks(text, fp.hunks, forward, text_norm)
            if res is None:
                continue
            other, old_shift, new_shift = res
            cost = sum(abs(v) for v in (old_shift if forward else new_shift).values())
            img = (FileImages(text, other, old_shift, new_shift, "pre-image") if forward
                   else FileImages(other, text, old_shift, new_shift, "post-image"))
            if best_cost is None or cost < best_cost:
                best, best_cost = img, cost
    if best is None:
        return FileImages(None, None, problem=f"{fp.path}: the tree's copy matches neither side of the patch "
                                              "(hunks could not be located), so the patch's own context is used")
    return best
