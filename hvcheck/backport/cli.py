"""`hvcheck backport`: did every backported hunk land where upstream's did? (P001-P005)

Only click and the standard library are imported at module level; unidiff and tree-sitter are
loaded when the command runs.
"""

from __future__ import annotations

import os

import click

from hvcheck.cli import AreaCommand, common_options, finish
from hvcheck.errors import InputError


def _git_patch(repo: str, rev: str) -> tuple[str, str | None, str]:
    """(diff text, first parent or None for a root commit, resolved commit) of ``rev``."""
    from hvcheck.backport.sources import run_git

    commit = run_git(repo, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], check=False)
    if commit.returncode != 0:
        raise InputError(rev, f"not a commit in {os.path.abspath(repo)}")
    sha = commit.stdout.decode().strip()
    parents = run_git(repo, ["rev-list", "--parents", "-n", "1", sha]).stdout.decode().split()[1:]
    if parents:
        diff = run_git(repo, ["diff", "--no-color", "--no-ext-diff", "-M", parents[0], sha])
    else:
        diff = run_git(repo, ["diff-tree", "-p", "--root", "--no-color", "--no-ext-diff", "-M", sha])
    return diff.stdout.decode("utf-8", errors="replace"), (parents[0] if parents else None), sha


def load_side(name: str, arg: str, repo: str | None, tree_spec: str | None):  # -> Side
    from hvcheck.backport.context import Side
    from hvcheck.backport.patchfile import read_patch
    from hvcheck.backport.sources import EmptyTree, GitTree, resolve_tree

    if repo is not None and not os.path.isfile(arg):
        text, parent, sha = _git_patch(repo, arg)
        patch = read_patch(f"{arg}", text)
        if tree_spec:
            tree = resolve_tree(tree_spec, repo)
            return Side(name, patch, tree, tree)
        pre = GitTree(repo, parent) if parent else EmptyTree()
        return Side(name, patch, pre, GitTree(repo, sha))
    if not os.path.exists(arg):
        hint = " (with --repo, give commits)" if repo is None else ""
        raise InputError(arg, f"no such patch file{hint}")
    patch = read_patch(arg)
    if tree_spec:
        tree = resolve_tree(tree_spec, repo)
        return Side(name, patch, tree, tree)
    return Side(name, patch)


def run_backport(upstream: str, backport: str, *, repo: str | None = None, upstream_tree: str | None = None,
                 backport_tree: str | None = None):  # -> Result
    """Library entry point used by the CLI, the demo and the benchmarks."""
    from hvcheck.backport.check import check_backport

    up = load_side("upstream", upstream, repo, upstream_tree)
    bp = load_side("backport", backport, repo, backport_tree)
    if not any(fp.is_c and not fp.binary and fp.hunks for side in (up, bp) for fp in side.patch.files):
        files = ", ".join(sorted({fp.path for side in (up, bp) for fp in side.patch.files})) or "none"
        raise InputError(None, f"nothing to compare: neither patch changes C source (files: {files})")
    return check_backport(up, bp)


@click.command(cls=AreaCommand, area="backport")
@click.argument("upstream")
@click.argument("backport")
@click.option("--repo", type=click.Path(file_okay=False), help="Git repository: UPSTREAM and BACKPORT are commits in it "
              "(each compared with its first parent; trees are read with `git show rev:path`).")
@click.option("--upstream-tree", metavar="DIR|REV", help="Upstream source (before or after the patch): a directory "
              "or a git revision (in --repo, else the current directory).")
@click.option("--backport-tree", metavar="DIR|REV", help="Backport source (before or after the patch), as above.")
@common_options
def backport(upstream: str, backport: str, repo: str | None, upstream_tree: str | None, backport_tree: str | None,
             fmt: str, output: str | None, fail_on: str) -> int:
    """Compare UPSTREAM with BACKPORT hunk by hunk: patch files (git format-patch or unified diff),
    or commits with --repo ({rules}). Reports a hunk that landed in another function or another
    switch, a missing hunk, an extra hunk and changed content.

    Without source trees the enclosing function comes from the patches' own context and @@ headers
    and the findings say the confidence is low.
    """
    if repo is not None and not os.path.isdir(repo):
        raise InputError(repo, "--repo is not a directory")
    result = run_backport(upstream, backport, repo=repo, upstream_tree=upstream_tree, backport_tree=backport_tree)
    return finish(result.findings, fmt=fmt, output=output, fail_on=fail_on,
                  title=f"hvcheck backport: {upstream} -> {backport}", preamble=result.preamble(), extra=result.extra(),
                  inputs=[upstream, backport] if repo is None else [repo])
