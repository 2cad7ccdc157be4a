"""`hvcheck backport`: did every backported hunk land where upstream's did? ({rules})

Only click and the standard library are imported at module level; tree-sitter and the readers
are loaded when the command runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from hvcheck.cli import AreaCommand, common_options, finish
from hvcheck.errors import InputError

if TYPE_CHECKING:
    from hvcheck.backport.check import Result
    from hvcheck.backport.placement import Side


def _git_patch(repo: str, rev: str) -> tuple[str, str | None, str]:
    """(`git show`-style text, first parent or None for a root commit, resolved commit) of ``rev``."""
    from hvcheck.backport.readers.trees import first_parent, resolve_commit, run_git

    sha = resolve_commit(repo, rev)
    if sha is None:
        raise InputError(rev, f"not a commit in {os.path.abspath(repo)}")
    parent = first_parent(repo, sha)
    if parent:
        diff = run_git(repo, ["diff", "--no-color", "--no-ext-diff", "-M", parent, sha])
    else:
        diff = run_git(repo, ["diff-tree", "-p", "--root", "--no-color", "--no-ext-diff", "-M", sha])
    subject = run_git(repo, ["log", "-1", "--format=%s", sha]).stdout.decode("utf-8", "replace").strip()
    text = f"commit {sha}\nAuthor: -\n\n    {subject}\n\n" + diff.stdout.decode("utf-8", errors="replace")
    return text, parent, sha


def load_side(name: str, arg: str, repo: str | None, tree_spec: str | None,
              other: Side | None = None) -> Side:
    from hvcheck.backport.placement import Side
    from hvcheck.backport.readers.patchfile import read_patch
    from hvcheck.backport.readers.trees import EmptyTree, GitTree, is_git_repo, resolve_commit, resolve_tree

    tree_repo = tree_spec if tree_spec and repo is None and is_git_repo(tree_spec) else None
    if repo is not None and not os.path.isfile(arg):
        text, parent, sha = _git_patch(repo, arg)
        patch = read_patch(arg, text)
        if tree_spec:
            tree = resolve_tree(tree_spec, repo)
            return Side(name, patch, tree, tree)
        pre = GitTree(repo, parent, f"parent of {sha[:12]}") if parent else EmptyTree()
        return Side(name, patch, pre, GitTree(repo, sha, "the commit given"))
    if tree_repo is not None and not os.path.exists(arg):
        rev = arg
        if arg == "auto":
            refs = [r for msg in (other.patch.messages if other else []) for r in msg.refs if r.kind == "upstream"]
            found = next((r for r in refs if resolve_commit(tree_repo, r.sha)), None)
            if found is None:
                named = ", ".join(r.sha[:12] for r in refs) or "none"
                raise InputError(arg, f"`auto`: no upstream commit named in the backport is in {tree_repo} "
                                      f"(named: {named})")
            rev = found.sha
        text, _parent, _sha = _git_patch(tree_repo, rev)
        return Side(name, read_patch(f"{rev}", text), repo=tree_repo)
    if not os.path.exists(arg):
        hint = " (with --repo, or a git repository as --upstream-tree, give commits)" if repo is None else ""
        raise InputError(arg, f"no such patch file{hint}")
    patch = read_patch(arg)
    if tree_repo is not None:
        return Side(name, patch, repo=tree_repo)
    if tree_spec:
        tree = resolve_tree(tree_spec, repo)
        return Side(name, patch, tree, tree)
    return Side(name, patch)


def run_backport(upstream: str, backport: str, *, repo: str | None = None, upstream_tree: str | None = None,
                 backport_tree: str | None = None) -> Result:
    """Library entry point used by the CLI, the demo and the benchmarks."""
    import gc

    from hvcheck.backport.check import check_backport

    # A large patch is hundreds of thousands of small acyclic objects: the cyclic collector's
    # repeated full scans cost more than the work itself (3-4x on 50,000 hunks). Reference
    # counting still frees everything; the collector is restored on the way out.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        bp = load_side("backport", backport, repo, backport_tree)
        up = load_side("upstream", upstream, repo, upstream_tree, other=bp)
        if not any(fp.is_c and not fp.binary and fp.hunks for side in (up, bp) for fp in side.patch.files):
            files = ", ".join(sorted({fp.path for side in (up, bp) for fp in side.patch.files})) or "none"
            raise InputError(None, f"nothing to compare: neither patch changes C source (files: {files})")
        return check_backport(up, bp)
    finally:
        if was_enabled:
            gc.enable()


@click.command(cls=AreaCommand, area="backport")
@click.argument("upstream")
@click.argument("backport")
@click.option("--repo", type=click.Path(file_okay=False), help="Git repository: UPSTREAM and BACKPORT are commits in it "
              "(each compared with its first parent; trees are read with `git cat-file`).")
@click.option("--upstream-tree", metavar="DIR|REPO|REV", help="Upstream source: a directory (before or after the "
              "patch); a git repository, read at the commit the patches name (`From <sha>`, `commit <sha> "
              "upstream`, `[ Upstream commit <sha> ]`, `cherry picked from`, `master commit:`, else `Fixes:`); or a "
              "revision in --repo. With a repository, UPSTREAM may be a commit in it, or `auto` for the one the "
              "backport names.")
@click.option("--backport-tree", metavar="DIR|REPO|REV", help="Backport source, as above.")
@common_options
def backport(upstream: str, backport: str, repo: str | None, upstream_tree: str | None, backport_tree: str | None,
             fmt: str, output: str | None, fail_on: str) -> int:
    """Compare UPSTREAM with BACKPORT hunk by hunk ({rules}): patch files in any form people send
    (git format-patch mails and mboxes, MIME, quoted-printable/base64, PGP-signed, replies quoting
    the patch, git show, diff -u, quilt), or commits with --repo. Reports a hunk that landed in
    another function, switch, initializer member or #if branch; a hunk moved and rewritten; a
    missing or extra hunk; changed content.

    Without source trees the place comes from the patches' own text and @@ headers, and each
    finding says its confidence and why.
    """
    if repo is not None and not os.path.isdir(repo):
        raise InputError(repo, "--repo is not a directory")
    result = run_backport(upstream, backport, repo=repo, upstream_tree=upstream_tree, backport_tree=backport_tree)
    return finish(result.findings, fmt=fmt, output=output, fail_on=fail_on,
                  title=f"hvcheck backport: {upstream} -> {backport}", preamble=result.preamble(), extra=result.extra(),
                  inputs=[upstream, backport] if repo is None else [repo])
