"""Run `hvcheck layout TREE --all` over hvisor's history, commit by commit (issue 15).

    python scripts/hvisor_history.py REPO [--rev dev] [--jobs 2] [--out history.jsonl]
    python scripts/hvisor_history.py --summary history.jsonl [--truth scripts/hvisor_history_truth.json]
        [--markdown docs/hvisor-history.md]

REPO is any local clone (or bare mirror) of github syswonder/hvisor. The scan walks REV's commits
oldest first (topological order) and checks every commit whose layout inputs (board configs,
linker scripts, constants, zone configs, device trees, build files) differ from each of its
parents', board by board, exactly as `hvcheck layout TREE --all` does (the same loader registry,
the same rules). Each worker keeps one materialised tree and rewrites only the files a commit
changed (read from `git cat-file --batch` by blob id), so the loader's content-keyed caches parse
a file again only when its blob changed. Nothing is written into REPO.

The output is one JSON object per (commit, board): the rules found, and for each finding the
facts a reader of the history needs (zone, ranges, whether the verdict depends on an estimate).
`--summary` turns it into docs/hvisor-history.md, checked against the hand-verified truth file.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Files the hvisor loader may read, by path (blobs above MAX_BLOB are images/firmware: skipped).
RELEVANT = re.compile(r"^(platform/|src/platform/|scripts/|images/[^/]+/devicetree/|src/consts\.rs$|src/config\.rs$"
                      r"|src/main\.rs$|src/arch/[^/]+/(consts|entry|boot)\.rs$|\.cargo/|Makefile$)")
SUFFIXES = {".rs", ".ld", ".lds", ".mk", ".json", ".dts", ".dtsi", ".dtb", ".h", ".toml", ""}
MAX_BLOB = 8 << 20

Snapshot = dict[str, str]   # path -> blob id


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


class Trees:
    """Commits' relevant files (path -> blob id) read from git's object store through one
    `git cat-file --batch` process, each tree object parsed once (most commits share all but a
    few subtrees), instead of one `git ls-tree` process per commit."""

    def __init__(self, repo: Path) -> None:
        self.objects = BlobReader(repo)
        self.sizes = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch-check"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)
        self._trees: dict[str, list[tuple[str, str, str]]] = {}   # tree id -> (mode, name, id)
        self._files: dict[tuple[str, str], Snapshot] = {}        # (tree id, prefix) -> relevant files
        self._size: dict[str, int] = {}

    def snapshot(self, commit: str) -> Snapshot:
        raw = self.objects.read(commit)
        if raw is None:
            return {}
        tree = raw.split(b"\n", 1)[0].split()[1].decode()
        return self._walk(tree, "")

    def _entries(self, tree: str) -> list[tuple[str, str, str]]:
        if tree not in self._trees:
            raw = self.objects.read(tree) or b""
            out, pos = [], 0
            while pos < len(raw):
                sp = raw.index(b" ", pos)
                nul = raw.index(b"\0", sp)
                out.append((raw[pos:sp].decode(), raw[sp + 1:nul].decode("utf-8", "replace"),
                            raw[nul + 1:nul + 21].hex()))
                pos = nul + 21
            self._trees[tree] = out
        return self._trees[tree]

    def _walk(self, tree: str, prefix: str) -> Snapshot:
        key = (tree, prefix)
        if key not in self._files:
            files: Snapshot = {}
            for mode, name, oid in self._entries(tree):
                path = prefix + name
                if mode == "40000":
                    if any((path + "/").startswith(r) or r.startswith(path + "/") for r in _RELEVANT_ROOTS):
                        files.update(self._walk(oid, path + "/"))
                elif mode.startswith("100") and RELEVANT.match(path) and \
                        Path(path).suffix.lower() in SUFFIXES and self._blob_size(oid) <= MAX_BLOB:
                    files[path] = oid
            self._files[key] = files
        return self._files[key]

    def _blob_size(self, oid: str) -> int:
        if oid not in self._size:
            assert self.sizes.stdin is not None and self.sizes.stdout is not None
            self.sizes.stdin.write(oid.encode() + b"\n")
            self.sizes.stdin.flush()
            fields = self.sizes.stdout.readline().split()
            self._size[oid] = int(fields[2]) if len(fields) >= 3 and fields[1] != b"missing" else MAX_BLOB + 1
        return self._size[oid]

    def close(self) -> None:
        self.objects.close()
        if self.sizes.stdin is not None:
            self.sizes.stdin.close()
        self.sizes.wait()


# Directories that may hold relevant files (so the walk does not descend into src/device, ...).
_RELEVANT_ROOTS = ("platform/", "src/platform/", "scripts/", "images/", ".cargo/", "src/arch/")


@dataclass
class Commit:
    sha: str
    snap: Snapshot
    parents: list[str]      # the nearest checked ancestors, one per parent line (their results are this one's past)
    date: str = ""
    subject: str = ""


def commits_to_check(repo: Path, rev: str) -> list[Commit]:
    """Commits (oldest first) whose layout inputs differ from every parent's. A commit that is not
    checked has the inputs of one of its parents, so its results are that parent's."""
    lines = git(repo, "rev-list", "--topo-order", "--reverse", "--parents", rev).split("\n")
    meta = {}
    for line in git(repo, "log", "--format=%H%x00%h%x00%cs%x00%s", rev).split("\n"):
        if line:
            full, short, date, subject = line.split("\0", 3)
            meta[full] = (short, date, subject.strip()[:100])
    snaps: dict[str, Snapshot] = {}
    same_as: dict[str, str] = {}     # unchecked commit -> the parent whose inputs it has
    out = []
    trees = Trees(repo)
    for line in lines:
        if not line.strip():
            continue
        commit, *parents = line.split()
        snap = trees.snapshot(commit)
        snaps[commit] = snap
        twin = next((p for p in parents if snaps.get(p) == snap), None)
        if twin is not None or not snap:
            same_as[commit] = twin or ""
            continue

        def checked(c: str) -> str:
            while c in same_as:
                c = same_as[c]
            return c

        short, date, subject = meta.get(commit, (commit[:7], "", ""))
        resolved = [meta.get(checked(p), (checked(p)[:7],))[0] for p in parents if checked(p)]
        out.append(Commit(commit, snap, resolved, date, subject))
    trees.close()
    return out


class BlobReader:
    """One `git cat-file --batch` process: blob id -> bytes (None when the object is missing)."""

    def __init__(self, repo: Path) -> None:
        self.proc = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def read(self, blob: str) -> bytes | None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(blob.encode() + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            return None
        size = int(header[2])
        data = self.proc.stdout.read(size)
        self.proc.stdout.read(1)
        return data

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def materialise(tree: Path, old: Snapshot, new: Snapshot, blobs: BlobReader) -> list[str]:
    """Make ``tree`` hold ``new`` given that it holds ``old``; the paths whose blob is missing."""
    missing = []
    for path in old.keys() - new.keys():
        (tree / path).unlink(missing_ok=True)
    for path, blob in new.items():
        if old.get(path) == blob:
            continue
        data = blobs.read(blob)
        dest = tree / path
        if data is None:
            dest.unlink(missing_ok=True)
            missing.append(path)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    return missing


def _jsonable(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return hex(value) if value > 9 else value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def check_tree(tree: Path) -> list[dict[str, Any]]:
    """`hvcheck layout TREE --all`, one record per board (the same code path as the CLI)."""
    from hvcheck.errors import InputError
    from hvcheck.layout import loaders
    from hvcheck.layout.rules import run_rules

    try:
        fmt, targets = loaders.discover(tree)
    except InputError as exc:
        return [{"board": None, "error": str(exc)}]
    records = []
    for target in targets:
        rec: dict[str, Any] = {"board": target.name}
        try:
            system = fmt.load_target(target, loaders.LoadOptions())
            findings = run_rules(system)
        except InputError as exc:
            rec["rules"] = {"E001": 1}
            rec["error"] = f"{exc.path}:{exc.line}: {exc.message}" if exc.line else f"{exc.path}: {exc.message}"
            records.append(rec)
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is a result the scan must record
            rec["crash"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            rec["traceback"] = traceback.format_exc()[-2000:]
            records.append(rec)
            continue
        rec["rules"] = dict(sorted(Counter(f.rule for f in findings).items()))
        hv = system.hypervisor
        if hv is not None:
            rec["hv"] = [hex(hv.start), hex(hv.end)] + ([hex(hv.estimate.end_min)] if hv.estimate else [])
        rec["findings"] = [
            {"rule": f.rule, "severity": f.sev.label, "data": _jsonable(f.data),
             "where": [str(loc) for loc in f.locations[:2]]}
            for f in findings if f.rule not in ("M011", "M012")]
        rec["notes"] = len(system.notes)
        records.append(rec)
    return records


def _worker(args: tuple[str, list[Commit], str]) -> list[dict[str, Any]]:
    repo_s, chunk, out_dir = args
    repo = Path(repo_s)
    tree = Path(tempfile.mkdtemp(prefix="hvhist-", dir=out_dir))
    blobs = BlobReader(repo)
    old: Snapshot = {}
    results = []
    try:
        for c in chunk:
            t0 = time.perf_counter()
            missing = materialise(tree, old, c.snap, blobs)
            old = c.snap
            recs = check_tree(tree)
            for rec in recs:
                rec.update({"commit": c.sha[:7], "date": c.date, "subject": c.subject, "parents": c.parents})
                if missing:
                    rec["missing_blobs"] = missing
                results.append(_relative(rec, str(tree) + "/"))
            if recs:
                results[-1]["seconds"] = round(time.perf_counter() - t0, 3)
    finally:
        blobs.close()
        shutil.rmtree(tree, ignore_errors=True)
    return results


def _relative(value: Any, prefix: str) -> Any:
    """Paths in a record relative to the materialised tree (so records compare across runs)."""
    if isinstance(value, str):
        return value.replace(prefix, "")
    if isinstance(value, dict):
        return {k: _relative(v, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, prefix) for v in value]
    return value


def scan(repo: Path, rev: str, jobs: int, limit: int | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Check every commit; the records and what the summary needs to know about the run."""
    t0, c0 = time.perf_counter(), os.times()
    commits = commits_to_check(repo, rev)
    if limit:
        commits = commits[:limit]
    # Contiguous chunks: neighbouring commits share most files, so each worker's cache stays warm.
    n = max(1, jobs)
    size = max(1, (len(commits) + n - 1) // n)
    chunks = [commits[i:i + size] for i in range(0, len(commits), size)]
    with tempfile.TemporaryDirectory(prefix="hvisor-history-") as tmp:
        args = [(str(repo), c, tmp) for c in chunks]
        if n == 1:
            parts = [_worker(a) for a in args]
        else:
            with multiprocessing.get_context("fork").Pool(n) as pool:
                parts = pool.map(_worker, args)
    c1 = os.times()
    checked = {c.sha[:7] for c in commits}
    mainline = [line[:7] for line in git(repo, "rev-list", "--first-parent", "--reverse", rev).split()]
    meta = {"rev": rev, "head": git(repo, "rev-parse", "--short=7", rev).strip(), "commits": len(commits),
            "all_commits": len(git(repo, "rev-list", rev).split()), "jobs": n,
            "seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(sum(c1[:4]) - sum(c0[:4]), 1),
            "mainline": [c for c in mainline if c in checked]}
    return [r for p in parts for r in p], meta


# ---------------------------------------------------------------------------------------------
# the summary (docs/hvisor-history.md), checked against the hand-verified truth

LAYOUT_RULES = ("M001", "M002")


def _has(rec: dict[str, Any] | None, rule: str) -> bool | None:
    return None if rec is None else rule in rec.get("rules", {})


def first_bad(records: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    """Records where ``rule`` fires for a board and fired on none of the commit's parents (the
    commit that introduced it on its line of history)."""
    by = {(r["commit"], r.get("board")): r for r in records}
    out = []
    for r in records:
        if r.get("board") and _has(r, rule) and not any(_has(by.get((p, r["board"])), rule)
                                                         for p in r.get("parents", [])):
            out.append(r)
    return out


def fixes(records: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    """Records where ``rule`` stopped firing for a board that a parent had it for, and no input
    problem (E001) explains the silence."""
    by = {(r["commit"], r.get("board")): r for r in records}
    return [r for r in records if r.get("board") and _has(r, rule) is False and "E001" not in r.get("rules", {})
            and any(_has(by.get((p, r["board"])), rule) for p in r.get("parents", []))]


def check_truth(records: list[dict[str, Any]], truth: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(claim, holds, detail) for every hand-verified fact."""
    by = {(r["commit"], r.get("board")): r for r in records}
    results = []
    for inc in truth.get("incidents", []):
        board, bad = inc["board"], inc["first_bad"]
        rec = by.get((bad, board))
        ok = rec is not None and _has(rec, "M001") is True and not any(
            _has(by.get((p, board)), "M001") for p in rec.get("parents", []))
        detail = "M001 at the first bad commit, none on its parents" if ok else \
            f"scan: {rec.get('rules') if rec else 'not checked'}"
        results.append((f"{board} {bad}: hypervisor in zone RAM from this commit", ok, detail))
        if inc.get("fixed_by"):
            fix = by.get((inc["fixed_by"], board))
            ok = fix is not None and _has(fix, "M001") is False
            results.append((f"{board} {inc['fixed_by']}: fixed", ok, f"scan: {fix.get('rules') if fix else 'not checked'}"))
    for d in truth.get("depends", []):
        rec = by.get((d["commit"], d["board"]))
        marked = [f for f in (rec or {}).get("findings", []) if f["rule"] == "M001" and "depends_on_estimate" in f["data"]]
        results.append((f"{d['board']} {d['commit']}: M001 says it depends on the estimate", bool(marked),
                        marked[0]["data"]["depends_on_estimate"]["bound"] if marked else "no M001 marked"))
    for c in truth.get("clean", []):
        board = c["board"]
        bad = [commit for commit in c["commits"] if any(_has(by.get((commit, board)), r) for r in LAYOUT_RULES)]
        missing = [commit for commit in c["commits"] if (commit, board) not in by]
        ok = not bad and not missing
        results.append((f"{board}: clean at {len(c['commits'])} commit(s) ({c['commits'][0]}..{c['commits'][-1]})", ok,
                        "no M001/M002" if ok else f"M001/M002 at {bad}; not checked {missing}"))
    return results


def _months(records: list[dict[str, Any]], board: str) -> list[tuple[str, list[tuple[str, int]]]]:
    """Per month (commit date): how many of the board's checked commits had which findings."""
    months: dict[str, Counter[str]] = {}
    for r in records:
        if r.get("board") == board:
            months.setdefault(r.get("date", "")[:7], Counter())[_rules_text(r)] += 1
    return [(m, c.most_common()) for m, c in sorted(months.items())]


def _rules_text(rec: dict[str, Any]) -> str:
    if "crash" in rec:
        return "CRASH"
    shown = {k: v for k, v in rec.get("rules", {}).items() if k not in ("M011", "M012", "M014", "E003")}
    return " ".join(f"{k}×{v}" if v > 1 else k for k, v in sorted(shown.items())) or "clean"


def summary(records: list[dict[str, Any]], meta: dict[str, Any], truth: dict[str, Any]) -> tuple[str, bool]:
    pairs = [r for r in records if r.get("board")]
    lines = ["# hvcheck over hvisor's history", "",
             "Generated by `python scripts/hvisor_history.py --summary` from a scan made with",
             "`python scripts/hvisor_history.py REPO --rev dev --out history.jsonl` (REPO: any clone of",
             "github syswonder/hvisor; nothing of it is committed here). Truth: "
             "`scripts/hvisor_history_truth.json`, decided by hand from each commit's source.", "",
             "## The run", "",
             f"- `{meta.get('rev')}` at `{meta.get('head')}`: {meta.get('all_commits')} commits, "
             f"**{meta.get('commits')}** of them change a layout input (board configs, linker scripts, "
             "constants, zone configs, device trees, build files); each checked board by board exactly as "
             "`hvcheck layout TREE --all`: "
             f"**{len(pairs)}** (commit, board) pairs.",
             f"- {meta.get('seconds')} s wall, {meta.get('cpu_seconds')} s CPU (user + system, all processes) with "
             f"{meta.get('jobs')} worker(s) on this shared machine; goal: under 5 minutes on 2 cores.",
             f"- crashes: **{sum(1 for r in pairs if 'crash' in r)}**."]
    e001 = [r for r in pairs if "E001" in r.get("rules", {})]
    whole = [r for r in pairs if "error" in r]
    lines.append(f"- E001: {len(e001)} pairs report an unreadable input; in {len(whole)} the whole board "
                 "could not be loaded (board.rs itself).")
    if truth.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in truth["notes"]]
    results = check_truth(records, truth)
    ok = all(r[1] for r in results) and not any("crash" in r for r in pairs)
    lines += ["", "## Hand-verified facts", "",
              f"{sum(1 for r in results if r[1])} of {len(results)} hold.", "",
              "| claim | scan agrees | detail |", "|---|---|---|"]
    lines += [f"| {claim} | {'yes' if good else '**NO**'} | {detail} |" for claim, good, detail in results]
    lines += ["", "## Incidents: hypervisor inside zone RAM (M001), at their first bad commit", "",
              "| board | first bad commit | what (scan) | why, from the source (truth file) |", "|---|---|---|---|"]
    notes = {(i["board"], i["first_bad"]): i for i in truth.get("incidents", [])}
    for r in first_bad(records, "M001"):
        f = next((x for x in r.get("findings", []) if x["rule"] == "M001"), None)
        what = (f"hvisor [{f['data']['hv_start']}, {f['data']['hv_end']}) vs zone {f['data']['zone']} "
                f"{f['data']['kind']} [{f['data']['region_start']}, {f['data']['region_end']}) at "
                f"`{f['where'][0].split(',')[0]}`" if f else "")
        inc = notes.get((r["board"], r["commit"]))
        lines.append(f"| {r['board']} | `{r['commit']}` {r['date']} {r['subject'][:50]} | {what} | "
                     f"{inc['why'] + (' Fixed by `' + inc['fixed_by'] + '`.' if inc.get('fixed_by') else '') if inc else 'not in the truth file'} |")
    lines += ["", "Fixing commits (M001 gone, no unreadable input to explain it): " + ", ".join(
        f"{r['board']} `{r['commit']}`" for r in fixes(records, "M001")) + ".", ""]
    dep = [r for r in pairs for f in r.get("findings", []) if f["rule"] == "M001" and "depends_on_estimate" in f["data"]]
    lines += ["## Every M001 that depends on an estimate", ""]
    if not dep:
        lines.append("None.")
    else:
        lines += ["| board | commits | the bound that makes it true |", "|---|---|---|"]
        groups: dict[tuple[str, str], list[str]] = {}
        for r in dep:
            for f in r["findings"]:
                if f["rule"] == "M001" and "depends_on_estimate" in f["data"]:
                    groups.setdefault((r["board"], f["data"]["depends_on_estimate"]["bound"]), [])
                    if r["commit"] not in groups[(r["board"], f["data"]["depends_on_estimate"]["bound"])]:
                        groups[(r["board"], f["data"]["depends_on_estimate"]["bound"])].append(r["commit"])
        for (board, bound), commits in sorted(groups.items()):
            lines.append(f"| {board} | {len(commits)}: `{commits[0]}`..`{commits[-1]}` | {bound} |")
    lines += ["", "## Unreadable inputs (E001)", "", "| board | commits | input | what |", "|---|---|---|---|"]
    causes: dict[tuple[str, str, str], list[str]] = {}
    for r in pairs:
        for f in r.get("findings", []):
            if f["rule"] == "E001":
                where = f["where"][0] if f["where"] else ""
                causes.setdefault((r["board"], re.sub(r":\d+$", "", where), f["data"]["what"][:240]), []).append(r["commit"])
        if "error" in r:
            causes.setdefault((r["board"], "(the board)", r["error"][:240]), []).append(r["commit"])
    for (board, where, what), commits in sorted(causes.items()):
        lines.append(f"| {board} | {len(commits)}: `{commits[0]}`..`{commits[-1]}` | `{where}` | {what} |")
    lines += ["", "## Findings per board over time", "",
              "Per month of commit date: the board's checked commits and their findings (commits on every branch of "
              f"`{meta.get('rev')}`; M011, M012, M014 and E003 notes left out).", "",
              "| board | month | commits: findings |", "|---|---|---|"]
    for board in sorted({r["board"] for r in pairs}):
        for month, counts in _months(records, board):
            lines.append(f"| {board} | {month} | " + "; ".join(f"{n}: {key}" for key, n in counts) + " |")
    return "\n".join(lines).rstrip() + "\n", ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", nargs="?", type=Path, help="local clone or mirror of syswonder/hvisor")
    ap.add_argument("--rev", default="dev")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--limit", type=int, help="only the first N commits (testing)")
    ap.add_argument("--out", type=Path, default=Path("hvisor-history.jsonl"))
    ap.add_argument("--summary", type=Path, metavar="JSONL", help="summarise a scan instead of scanning")
    ap.add_argument("--truth", type=Path, default=Path(__file__).with_name("hvisor_history_truth.json"))
    ap.add_argument("--markdown", type=Path, help="write the summary here (default: stdout)")
    args = ap.parse_args(argv)
    if args.summary is not None:
        rows = [json.loads(line) for line in args.summary.read_text().splitlines() if line.strip()]
        meta = next((r["meta"] for r in rows if "meta" in r), {})
        truth = json.loads(args.truth.read_text()) if args.truth.is_file() else {}
        text, ok = summary([r for r in rows if "meta" not in r], meta, truth)
        if args.markdown:
            args.markdown.write_text(text)
        else:
            sys.stdout.write(text)
        return 0 if ok else 1
    if args.repo is None:
        ap.error("give REPO (or --summary JSONL)")
    records, meta = scan(args.repo, args.rev, args.jobs, args.limit)
    with args.out.open("w") as fh:
        fh.write(json.dumps({"meta": meta}) + "\n")
        for rec in records:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")
    boards = {(r["commit"], r.get("board")) for r in records if r.get("board")}
    crashes = sum(1 for r in records if "crash" in r)
    print(f"{meta['commits']} commits, {len(boards)} (commit, board) pairs, {crashes} crashes, "
          f"{meta['seconds']:.0f} s wall, {meta['cpu_seconds']:.0f} s CPU with {meta['jobs']} job(s) -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
