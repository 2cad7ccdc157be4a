"""Fault injection for `hvcheck fix --write`: interrupt the real command at every step that
changes the file system, and check the files one by one.

    python -m fuzz.fixfault                                  # the bundled fixtures
    python -m fuzz.fixfault --hvisor /tmp/hvisor-fix         # + every upstream board fix edits
    python -m fuzz.fixfault --case fix-slice --kinds kill    # one case, one kind

For each case (a layout file or an hvisor board whose fix edits files) the tree is copied; one
uninterrupted `fix --write` gives the *fixed* state, the copy itself the *original* state. The
command is then run under strace once to list its file-system system calls, and again once per
injection point:

- ``kill``: SIGKILL on entry to each openat(O_CREAT)/write/fchmod/fchown/fsync/utimensat/
  rename/unlink of the write phase (the call does not happen). Right after the kill every file
  must be, byte for byte, the original or the fixed text (a backup: complete; temporary files:
  only while the journal names them). Then `hvcheck fix --recover` must leave the tree exactly
  original or exactly fixed — never some files of each (*half-applied*), no temporary file, no
  journal. For one kill after the commit record, recovery itself is killed at each of its steps
  and run again (``kill-recovery``).
- ``enospc`` / ``efbig`` (each write and fsync), ``eacces`` (each create and rename), ``eio``
  (each fsync): the command must exit 2 (or 1) with one line on stderr and leave the tree
  exactly original.
- ``fsize``: a real `ulimit -f` smaller than the largest new file: same expectation.

Every injected run is checked to have hit the intended call (strace marks it); a miss is
counted as such, never as a pass. Figures for docs/fuzzing.md come from the summary printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOURNAL = ".hvcheck-fix-journal"
TEMP = re.compile(r"\.hvcheck-(new|orig)$")
TRACED = "openat,write,fchmod,fchown,fsync,fdatasync,utimensat,rename,renameat,renameat2,unlink,unlinkat"
MUTATING = {"write", "fchmod", "fchown", "fsync", "fdatasync", "utimensat", "rename", "renameat", "renameat2",
            "unlink", "unlinkat"}
ERRORS = {  # kind -> (errno name, the system calls it is injected into)
    "enospc": ("ENOSPC", {"write", "fsync"}),
    "efbig": ("EFBIG", {"write"}),
    "eacces": ("EACCES", {"openat", "rename", "renameat", "renameat2"}),
    "eio": ("EIO", {"fsync"}),
}
KINDS = ("kill", "kill-recovery", *ERRORS, "fsize")
_LINE = re.compile(r"^(?:\d+\s+)?(?P<call>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>.*)$")
_TXID = re.compile(r"\.[0-9a-f]{8}\.hvcheck-")


@dataclass(frozen=True)
class Case:
    name: str
    source: Path                  # copied whole
    target: str                   # relative to the copy: a board directory or a layout file
    args: tuple[str, ...] = ()


def builtin_cases() -> list[Case]:
    fix = ROOT / "tests" / "fixtures" / "fix"
    return [
        Case("fix-slice", fix / "hvrepo", "platform/aarch64/slice"),
        Case("fix-variants", fix / "hvrepo", "platform/aarch64/variants"),
        Case("dts-layout", fix, "dts-layout.yaml"),
        Case("block-yaml", fix, "block.yaml"),
        Case("layout-json", fix, "layout.json"),
        Case("seed001", ROOT / "hvcheck" / "demo" / "examples" / "layout", "seed001-stomp.yaml", ("--strategy", "punch")),
    ]


def hvisor_cases(repo: Path) -> list[Case]:
    """Every board of an hvisor checkout, for every strategy; those with nothing to edit drop out."""
    out = []
    for board in sorted((repo / "platform").glob("*/*/board.rs")):
        rel = board.parent.relative_to(repo)
        for strategy in ("all", "punch", "reserve", "relocate"):
            out.append(Case(f"hvisor-{rel.parts[-1]}-{strategy}", repo, str(rel), ("--strategy", strategy)))
    return out


# ---------------------------------------------------------------- a working copy and its states

Snapshot = dict[str, tuple[int, bytes]]       # relative path -> (mode, content)


def snapshot(scope: Path) -> Snapshot:
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(scope):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                continue
            st = p.stat()
            out[str(p.relative_to(scope))] = (st.st_mode & 0o7777, p.read_bytes())
    return out


class Bench:
    """One case copied to a scratch directory, with its original and fixed states."""

    def __init__(self, case: Case, work: Path, hvcheck: list[str]) -> None:
        self.case = case
        self.hvcheck = hvcheck
        self.copy = work / case.name
        shutil.rmtree(self.copy, ignore_errors=True)
        shutil.copytree(case.source, self.copy, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "*.orig", "*.orig.*"))
        self.target = self.copy / case.target
        self.scope = self.target if self.target.is_dir() else self.target.parent
        self.before = snapshot(self.scope)
        proc = self.run(["fix", str(self.target), *case.args, "--write"])
        self.after = snapshot(self.scope)
        self.edits = sorted(rel for rel, v in self.after.items() if rel in self.before and v != self.before[rel])
        self.backups = sorted(rel for rel in self.after if rel not in self.before)
        self.usable = proc.returncode in (0, 1) and "written:" in proc.stdout and bool(self.edits)
        self.why_not = "" if self.usable else (proc.stdout + proc.stderr).strip().splitlines()[-1:]
        self.restore(self.before)

    def run(self, argv: list[str], prefix: list[str] | None = None, fsize: int | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}

        def limit() -> None:
            if fsize is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

        return subprocess.run([*(prefix or []), *self.hvcheck, *argv], capture_output=True, text=True, env=env,
                              timeout=timeout, preexec_fn=limit if fsize is not None else None)

    def restore(self, state: Snapshot) -> None:
        """Make the scope exactly ``state`` (files outside it are never touched by fix)."""
        now = snapshot(self.scope)
        for rel in now:
            if rel not in state:
                (self.scope / rel).unlink()
        for rel, (mode, data) in state.items():
            if now.get(rel) != (mode, data):
                p = self.scope / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                if p.exists():
                    p.chmod(0o644)
                p.write_bytes(data)
                p.chmod(mode)

    # ---------------------------------------------------------------- judging

    def check_interrupted(self, state: Snapshot) -> list[str]:
        """Right after an interruption: every file the original or the fixed text, whole."""
        problems = []
        journal = JOURNAL in state
        for rel, value in state.items():
            name = Path(rel).name
            if rel in self.before:
                if value[1] not in (self.before[rel][1], self.after[rel][1]):
                    problems.append(f"{rel}: neither the original nor the fixed text ({len(value[1])} bytes)")
            elif rel in self.backups:
                if value[1] != self.after[rel][1]:
                    problems.append(f"{rel}: an incomplete backup ({len(value[1])} bytes)")
            elif name == JOURNAL:
                continue
            elif TEMP.search(name):
                if not journal:
                    problems.append(f"{rel}: a temporary file without a journal to remove it")
            else:
                problems.append(f"{rel}: an unexpected file")
        problems += [f"{rel}: missing" for rel in self.before if rel not in state]
        return problems

    def settled(self, state: Snapshot) -> tuple[str, list[str]]:
        """("original"|"fixed"|"half-applied"|"dirty", details) once nothing is in progress."""
        if state == self.before:
            return "original", []
        if state == self.after:
            return "fixed", []
        fixed = [rel for rel in self.edits if state.get(rel, (0, b""))[1] == self.after[rel][1]]
        original = [rel for rel in self.edits if state.get(rel, (0, b""))[1] == self.before[rel][1]]
        if fixed and original:
            return "half-applied", [f"fixed: {', '.join(fixed)}; original: {', '.join(original)}"]
        extra = sorted(set(state) - set(self.before) - set(self.backups))
        wrong = [rel for rel in set(state) & (set(self.before) | set(self.backups))
                 if state[rel] != self.after.get(rel) and state[rel] != self.before.get(rel)]
        return "dirty", [f"left behind: {extra}" if extra else "", f"differ: {sorted(wrong)}" if wrong else ""]


# ---------------------------------------------------------------- strace


@dataclass(frozen=True)
class Point:
    call: str
    nth: int          # 1-based, among this process's calls of ``call``
    what: str         # the call as strace printed it, temporary-file ids masked


def _parse(trace: Path) -> list[tuple[str, str, str]]:
    out = []
    for line in trace.read_text(errors="replace").splitlines():
        m = _LINE.match(line.strip())
        if m:
            out.append((m["call"], m["args"], m["ret"]))
    return out


def _norm(call: str, args: str) -> str:
    args = _TXID.sub(".X.hvcheck-", args)
    args = re.sub(r"\[\{tv_sec=.*", "[times]", args)
    if call == "write":   # the journal's begin record holds a pid and an id: its length varies
        args = re.sub(r", \d+$", ", N", args)
    return f"{call}({args[:160]})"


def write_phase(calls: list[tuple[str, str, str]], scope: Path) -> list[Point]:
    """The mutating calls from the journal's creation to its removal (and the fsync after it)."""
    counts: Counter[str] = Counter()
    points: list[Point] = []
    started = False
    ended = False
    for call, args, _ in calls:
        counts[call] += 1
        if not started and call == "openat" and JOURNAL in args and "O_CREAT" in args:
            started = True
        if started and not ended:
            creates = call == "openat" and "O_CREAT" in args
            if call in MUTATING or creates:
                if call == "write" and re.match(r"[12],", args):
                    ended = True        # the report: the transaction is over
                    continue
                points.append(Point(call, counts[call], _norm(call, args)))
    return points


def recovery_phase(calls: list[tuple[str, str, str]]) -> list[Point]:
    counts: Counter[str] = Counter()
    points = []
    started = False
    for call, args, _ in calls:
        counts[call] += 1
        if call == "openat" and JOURNAL in args:
            started = True
        if started and (call in MUTATING or (call == "openat" and "O_CREAT" in args)):
            if call == "write" and re.match(r"[12],", args):
                break
            points.append(Point(call, counts[call], _norm(call, args)))
    return points


def traced(bench: Bench, argv: list[str], trace: Path, inject: str | None = None,
           calls: str = TRACED) -> subprocess.CompletedProcess[str]:
    prefix = ["strace", "-f", "-qq", "-o", str(trace), "-e", f"trace={calls}"]
    if inject:
        prefix += ["-e", f"inject={inject}"]
    return bench.run(argv, prefix=prefix)


def hit(trace: Path, point: Point) -> bool:
    """The injected run reached the intended call: strace marks an injected error "(INJECTED)",
    and prints a call killed on entry with the result "?"."""
    same = [(a, r) for c, a, r in (_parse(trace) if trace.exists() else []) if c == point.call]
    if len(same) < point.nth:
        return False
    args, ret = same[point.nth - 1]
    return _norm(point.call, args) == point.what and ("INJECTED" in ret or ret.strip() == "?")


# ---------------------------------------------------------------- the campaign


@dataclass
class Tally:
    runs: Counter[str] = field(default_factory=Counter)          # kind -> injected runs
    missed: Counter[str] = field(default_factory=Counter)        # injection did not hit the call
    outcomes: Counter[str] = field(default_factory=Counter)      # "kill: fixed" ...
    failures: list[str] = field(default_factory=list)
    files_checked: int = 0

    def fail(self, text: str) -> None:
        self.failures.append(text)
        print(f"FAIL {text}", flush=True)


def run_case(bench: Bench, kinds: set[str], tally: Tally, work: Path, limit: int | None = None,
             error_points: int | None = None) -> None:
    argv = ["fix", str(bench.target), *bench.case.args, "--write"]
    rec = work / "record.trace"
    traced(bench, argv, rec)
    points = write_phase(_parse(rec), bench.scope)
    bench.restore(bench.before)
    if limit is not None:
        points = points[:: max(1, len(points) // limit)]
    name = bench.case.name
    if "kill" in kinds or "kill-recovery" in kinds:
        after_commit: Point | None = None
        commit_seen = False
        for point in points:
            if "kill" in kinds:
                _kill_once(bench, argv, point, tally, work, name)
            if point.call == "write" and "commit" in point.what:
                commit_seen = True
            elif commit_seen and point.call.startswith("rename") and after_commit is None and ".hvcheck-new" in point.what:
                after_commit = point
        if "kill-recovery" in kinds and after_commit is not None:
            _kill_recovery(bench, argv, after_commit, tally, work, name)
    for kind, (errno_name, syscalls) in ERRORS.items():
        if kind not in kinds:
            continue
        chosen = [p for p in points if p.call in syscalls and (p.call != "openat" or "O_CREAT" in p.what)]
        if error_points is not None and len(chosen) > error_points:
            chosen = chosen[:: -(-len(chosen) // error_points)]
        for point in chosen:
            trace = work / "inject.trace"
            proc = traced(bench, argv, trace, f"{point.call}:error={errno_name}:when={point.nth}")
            tally.runs[kind] += 1
            if not hit(trace, point):
                tally.missed[kind] += 1
                print(f"missed {kind} at {point.call} #{point.nth} {point.what}", flush=True)
            _judge_failed_write(bench, proc, f"{name} {kind} at {point.what}", tally, kind)
            bench.restore(bench.before)
    if "fsize" in kinds:
        biggest = max(len(bench.after[rel][1]) for rel in bench.edits)
        for fsize in sorted({max(1, biggest // 2), max(1, biggest - 1)}):
            proc = bench.run(argv, fsize=fsize)
            tally.runs["fsize"] += 1
            _judge_failed_write(bench, proc, f"{name} ulimit -f {fsize} bytes", tally, "fsize")
            bench.restore(bench.before)


def _kill_once(bench: Bench, argv: list[str], point: Point, tally: Tally, work: Path, name: str) -> Snapshot | None:
    trace = work / "inject.trace"
    traced(bench, argv, trace, f"{point.call}:signal=KILL:when={point.nth}")
    tally.runs["kill"] += 1
    if not hit(trace, point):
        tally.missed["kill"] += 1
        print(f"missed kill at {point.call} #{point.nth} {point.what}", flush=True)
    state = snapshot(bench.scope)
    tally.files_checked += len(state)
    problems = bench.check_interrupted(state)
    if problems:
        tally.fail(f"{name} kill before {point.what}: right after the kill: {'; '.join(problems)}")
    _recover_and_judge(bench, f"{name} kill before {point.what}", tally, "kill")
    bench.restore(bench.before)
    return state


def _recover_and_judge(bench: Bench, label: str, tally: Tally, kind: str) -> None:
    pending = (bench.scope / JOURNAL).exists()
    proc = bench.run(["fix", "--recover", str(bench.target)])
    state = snapshot(bench.scope)
    tally.files_checked += len(state)
    verdict, details = bench.settled(state)
    tally.outcomes[f"{kind}: {verdict}"] += 1
    if proc.returncode != 0:
        tally.fail(f"{label}: --recover exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    if verdict not in ("original", "fixed"):
        tally.fail(f"{label}: after --recover the tree is {verdict}: {'; '.join(d for d in details if d)}")
    said = proc.stdout
    expected_word = {"original": ("rolled back", "not started"), "fixed": ("completed",)}
    if not pending:      # killed before the journal existed, or after it was removed: nothing to do
        expected_word = {"original": ("no interrupted",), "fixed": ("no interrupted",)}
    if verdict in expected_word and not any(w in said for w in expected_word[verdict]):
        tally.fail(f"{label}: --recover left the tree {verdict} but said: {said.strip()[:300]}")


def _kill_recovery(bench: Bench, argv: list[str], first: Point, tally: Tally, work: Path, name: str) -> None:
    """Kill the fix after its commit, then kill its recovery at every step, then recover again."""
    traced(bench, argv, work / "first.trace", f"{first.call}:signal=KILL:when={first.nth}")
    interrupted = snapshot(bench.scope)
    rec = work / "recovery.trace"
    traced(bench, ["fix", "--recover", str(bench.target)], rec)
    points = recovery_phase(_parse(rec))
    for point in points:
        bench.restore(interrupted)
        trace = work / "inject.trace"
        traced(bench, ["fix", "--recover", str(bench.target)], trace, f"{point.call}:signal=KILL:when={point.nth}")
        tally.runs["kill-recovery"] += 1
        if not hit(trace, point):
            tally.missed["kill-recovery"] += 1
            print(f"missed kill-recovery at {point.call} #{point.nth} {point.what}", flush=True)
        state = snapshot(bench.scope)
        tally.files_checked += len(state)
        problems = bench.check_interrupted(state)
        label = f"{name} kill before {first.what}, then recovery killed before {point.what}"
        if problems:
            tally.fail(f"{label}: {'; '.join(problems)}")
        _recover_and_judge(bench, label, tally, "kill-recovery")
    bench.restore(bench.before)


def _judge_failed_write(bench: Bench, proc: subprocess.CompletedProcess[str], label: str, tally: Tally,
                        kind: str) -> None:
    state = snapshot(bench.scope)
    tally.files_checked += len(state)
    verdict, details = bench.settled(state)
    tally.outcomes[f"{kind}: exit {proc.returncode}, {verdict}"] += 1
    err = proc.stderr.strip().splitlines()
    if proc.returncode == 0 and verdict == "fixed":
        return       # the injected failure was harmless (e.g. an fsync of a directory some file systems refuse)
    if proc.returncode not in (1, 2):
        tally.fail(f"{label}: exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
    if len(err) != 1 or "internal" in err[0] or not err[0].startswith(("error: ", "hvcheck fix: nothing written")):
        tally.fail(f"{label}: stderr is not one error line: {proc.stderr.strip()[-500:]!r}")
    if verdict != "original":
        tally.fail(f"{label}: after a failed write the tree is {verdict}: {'; '.join(d for d in details if d)}")


def cases_from(args: argparse.Namespace) -> Iterator[Case]:
    cases = builtin_cases()
    if args.hvisor:
        cases += hvisor_cases(Path(args.hvisor))
    for case in cases:
        if args.case and case.name not in args.case:
            continue
        if args.match and not any(m in case.name for m in args.match):
            continue
        yield case


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hvisor", help="an hvisor checkout to copy (never modified): every board's fix as a case")
    ap.add_argument("--case", action="append", help="only these cases (repeatable)")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {', '.join(KINDS)}")
    ap.add_argument("--points", type=int, help="at most about this many injection points per case (CI)")
    ap.add_argument("--error-points", type=int, help="at most about this many points per error kind and case")
    ap.add_argument("--match", action="append", help="only cases whose name contains this (repeatable)")
    ap.add_argument("--json", type=Path, help="write the tally here")
    args = ap.parse_args(argv)
    if shutil.which("strace") is None:
        print("fixfault: strace is required", file=sys.stderr)
        return 2
    kinds = set(args.kinds.split(","))
    tally = Tally()
    t0 = time.monotonic()
    hvcheck = [sys.executable, "-m", "hvcheck"]
    used: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hvcheck-fixfault-") as tmp:
        work = Path(tmp)
        for case in cases_from(args):
            bench = Bench(case, work, hvcheck)
            if not bench.usable:
                continue
            used.append(f"{case.name} ({len(bench.edits)} files)")
            before = sum(tally.runs.values())
            run_case(bench, kinds, tally, work, args.points, args.error_points)
            print(f"{case.name:<36} {len(bench.edits)} file(s)  {sum(tally.runs.values()) - before:>4} injections",
                  flush=True)
            shutil.rmtree(bench.copy, ignore_errors=True)
    seconds = time.monotonic() - t0
    half = sum(n for k, n in tally.outcomes.items() if "half-applied" in k)
    report = {"cases": used, "runs": dict(tally.runs), "missed": dict(tally.missed), "outcomes": dict(tally.outcomes),
              "failures": tally.failures, "half_applied": half, "files_checked": tally.files_checked,
              "seconds": round(seconds, 1)}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(f"fixfault: {len(used)} cases, {sum(tally.runs.values())} injected runs "
          f"({', '.join(f'{k} {v}' for k, v in sorted(tally.runs.items()))}), {sum(tally.missed.values())} missed, "
          f"{half} half-applied, {len(tally.failures)} failure(s), {tally.files_checked} file states checked, "
          f"{seconds:.0f} s")
    for k, v in sorted(tally.outcomes.items()):
        print(f"  {k}: {v}")
    return 1 if tally.failures or sum(tally.missed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
