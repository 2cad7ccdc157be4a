"""Mutation fuzzing of every reader, in-process, in a child with a memory limit.

    python -m fuzz.runner --budget 120             # CI: about two minutes over every target
    python -m fuzz.runner --budget 3600 --seed 7   # a longer run
    python -m fuzz.runner --target dts --budget 300

Invariant for every input: the exit status is 0, 1 or 2; exit 2 prints exactly one line starting
with `error: `; never an internal error (a traceback turned into a message), never longer than
--per-input seconds, never a MemoryError under the --memory limit. Each violation is saved under
--save-dir (default fuzz/crashes/<target>/) with what happened; copy it to
tests/fuzz_regressions/<target>/ once fixed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fuzz.mutate import mutate
from fuzz.targets import ROOT, TARGETS, Target, by_name


class Hang(BaseException):
    """Raised by the alarm; a BaseException so hvcheck's own catch-all cannot swallow it."""


@dataclass
class Outcome:
    ok: bool
    code: int | None
    what: str
    seconds: float


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang()


def run_one(argv: list[str], per_input: float) -> Outcome:
    """Run the real entry point in-process and judge the result against the invariant."""
    from hvcheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    t0 = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, per_input)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except Hang:
        return Outcome(False, None, f"no answer within {per_input:.0f} s", time.perf_counter() - t0)
    except BaseException as exc:  # noqa: BLE001 - anything escaping main is the crash we look for
        return Outcome(False, None, f"escaped main: {type(exc).__name__}: {exc}", time.perf_counter() - t0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    dt = time.perf_counter() - t0
    stderr = err.getvalue()
    if code not in (0, 1, 2):
        return Outcome(False, code, f"exit status {code}", dt)
    if "internal error" in stderr or "Traceback" in stderr:
        return Outcome(False, code, stderr.strip()[:2000], dt)
    if "too large to analyse in memory" in stderr:
        return Outcome(False, code, "MemoryError under the memory limit", dt)
    if code == 2:
        lines = stderr.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            return Outcome(False, code, f"exit 2 without a one-line error: {stderr[:500]!r}", dt)
    return Outcome(True, code, "", dt)


class Workspace:
    """A scratch copy of a target's input (and its tree) that each mutation overwrites."""

    def __init__(self, target: Target, seed: Path, scratch: Path) -> None:
        self.target = target
        self.seed = seed
        self.dir = scratch / target.name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.tree: Path | None = None
        self.board: Path | None = None
        if target.tree is not None:
            source = ROOT / target.tree
            self.tree = self.dir / "tree"
            shutil.copytree(source, self.tree, symlinks=False)
            self.input = self.tree / seed.relative_to(source) if seed.is_relative_to(source) else \
                self.dir / seed.name
            board = ROOT / target.board if target.board else _board_dir(seed)
            self.board = self.tree / board.relative_to(source) if board.is_relative_to(source) else board
        else:
            self.input = self.dir / seed.name

    def argv(self) -> list[str]:
        # "{tree}"/"{board}": the board directory that holds (or uses) the mutated file;
        # "{root}": the copy of the target's whole tree.
        subst = {"{input}": str(self.input), "{tree}": str(self.board), "{board}": str(self.board),
                 "{root}": str(self.tree)}
        out = []
        for arg in self.target.argv:
            for key, value in subst.items():
                arg = arg.replace(key, value)
            out.append(arg)
        return out

    def write(self, data: bytes) -> None:
        self.input.write_bytes(data)


def _board_dir(seed: Path) -> Path:
    """The directory holding board.rs for a seed inside an hvisor fixture tree."""
    for parent in [seed.parent, *seed.parents]:
        if (parent / "board.rs").is_file():
            return parent
        if parent == ROOT:
            break
    return seed.parent


def fuzz(targets: list[Target], budget: float, per_input: float, seed: int, save_dir: Path,
         inputs: int | None = None) -> dict[str, object]:
    """Fuzz each target for an equal share of ``budget`` seconds, or — when ``inputs`` is given —
    for exactly that many mutated inputs per target (deterministic for a given seed: CI uses it)."""
    rnd = random.Random(seed)
    report: dict[str, object] = {"seed": seed, "budget_s": budget, "targets": {}}
    live = [(t, t.seed_files()) for t in targets]
    skipped = [t.name for t, files in live if not files]
    live = [(t, files) for t, files in live if files]
    report["skipped_no_fixtures"] = skipped
    if not live:
        return report
    deadline = time.monotonic() + budget
    slice_s = budget / len(live)
    with tempfile.TemporaryDirectory(prefix="hvcheck-fuzz-") as scratch:
        for target, files in live:
            stats = {"inputs": 0, "crashes": 0, "exit": {"0": 0, "1": 0, "2": 0}, "max_s": 0.0}
            report["targets"][target.name] = stats  # type: ignore[index]
            stop = min(deadline, time.monotonic() + slice_s)
            spaces = [Workspace(target, f, Path(scratch)) for f in files]
            originals = [f.read_bytes() for f in files]
            # Every seed first, unmutated: the fixtures themselves must satisfy the invariant.
            queue = [(ws, data) for ws, data in zip(spaces, originals, strict=True)]
            while (stats["inputs"] < len(files) + inputs) if inputs is not None else (time.monotonic() < stop):
                if queue:
                    ws, data = queue.pop()
                else:
                    k = rnd.randrange(len(spaces))
                    ws, data = spaces[k], mutate(originals[k], rnd)
                ws.write(data)
                outcome = run_one(ws.argv(), per_input)
                stats["inputs"] += 1
                stats["max_s"] = max(stats["max_s"], round(outcome.seconds, 3))
                if outcome.code in (0, 1, 2):
                    stats["exit"][str(outcome.code)] += 1
                if not outcome.ok:
                    stats["crashes"] += 1
                    _save(save_dir / target.name, ws, data, outcome)
                ws.write(originals[spaces.index(ws)])
    return report


def _save(where: Path, ws: Workspace, data: bytes, outcome: Outcome) -> None:
    where.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:16]
    name = f"{digest}-{ws.input.name}"
    (where / name).write_bytes(data)
    (where / f"{name}.txt").write_text(
        f"target: {ws.target.name}\nseed file: {ws.seed.relative_to(ROOT)}\nargv: {ws.target.argv}\n"
        f"outcome: {outcome.what}\nexit: {outcome.code}\nseconds: {outcome.seconds:.2f}\n")


def _limit_memory(mib: int) -> None:
    limit = mib << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=120.0, help="total seconds over all targets")
    ap.add_argument("--per-input", type=float, default=10.0, help="time bound for one input, seconds")
    ap.add_argument("--memory", type=int, default=2048, help="address-space limit of the fuzzing child, MiB")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--inputs", type=int, help="exactly N mutated inputs per target instead of a time budget")
    ap.add_argument("--target", action="append", help="fuzz only these targets (repeatable)")
    ap.add_argument("--save-dir", type=Path, default=ROOT / "fuzz" / "crashes")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    targets = [by_name(n) for n in args.target] if args.target else TARGETS
    if args.child:
        report = fuzz(targets, args.budget, args.per_input, args.seed, args.save_dir, args.inputs)
        print(json.dumps(report))
        return 0
    child = [sys.executable, "-m", "fuzz.runner", "--child", "--budget", str(args.budget), "--per-input",
             str(args.per_input), "--seed", str(args.seed), "--save-dir", str(args.save_dir)]
    if args.inputs is not None:
        child += ["--inputs", str(args.inputs)]
    for t in targets:
        child += ["--target", t.name]
    proc = subprocess.run(child, cwd=ROOT, capture_output=True, text=True,
                          preexec_fn=lambda: _limit_memory(args.memory),
                          timeout=None if args.inputs is not None else args.budget + 10 * args.per_input + 120)
    if proc.returncode != 0:
        print(f"fuzz: the fuzzing child died (status {proc.returncode}): {proc.stderr[-2000:]}", file=sys.stderr)
        return 1
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    crashes = 0
    for name, stats in report["targets"].items():
        crashes += stats["crashes"]
        print(f"{name:<20} {stats['inputs']:>6} inputs  exits 0/1/2: {stats['exit']['0']}/{stats['exit']['1']}/"
              f"{stats['exit']['2']}  slowest {stats['max_s']:.2f} s  crashes {stats['crashes']}")
    for name in report["skipped_no_fixtures"]:
        print(f"{name:<20} skipped: no fixtures found for this reader")
    print(f"fuzz: {crashes} crash(es); saved under {args.save_dir}" if crashes else "fuzz: no crashes")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
