"""Fuzzing of every reader: mutated files, structured header corruption, special files, stdin,
gzip bombs, YAML alias bombs, huge numbers and failing outputs — each input run in its own
forked process with its time and memory measured.

    python -m fuzz.runner --inputs 20 --seed 2026        # CI: a fixed, seeded set per target
    python -m fuzz.runner --budget 3600 --seed 7         # a longer run, split over the targets
    python -m fuzz.runner --target dts --budget 300

Invariant for every input: the exit status is 0, 1 or 2; exit 2 prints exactly one line starting
with `error: `; never an internal error (a traceback turned into a message), never longer than
--per-input seconds (the child is killed after a grace period, so a hang inside C code is caught
too), and a peak resident set no larger than 10 x the input's size + --base-mib above the
process it was forked from. A failing output (stdout on a full disk, closed or a broken pipe;
--output on /dev/full or a directory) must end in a non-zero exit without an internal error.
Each violation is saved under --save-dir (default fuzz/crashes/<target>/) with what happened;
copy it to tests/fuzz_regressions/<target>/ once fixed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import io
import json
import os
import random
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fuzz.binfields import dtb_fields, elf_fields
from fuzz.mutate import huge_number, many_hunks, mutate, yaml_aliases
from fuzz.targets import ROOT, TARGETS, Target, by_name

MEMORY_FACTOR = 10          # peak RSS allowed per byte of input
GRACE_S = 5.0               # a child still alive this long after its alarm is killed


class Hang(BaseException):
    """Raised by the alarm; a BaseException so hvcheck's own catch-all cannot swallow it."""


@dataclass
class Outcome:
    ok: bool
    code: int | None
    what: str
    seconds: float
    peak_kib: int = 0          # forked runs: peak RSS above the process it was forked from
    problem: str = ""          # "hang", "internal", "exit", "format", "ceiling", "output", "crash"


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang()


def run_one(argv: list[str], per_input: float, *, capture_stdout: bool = True, output_failure: bool = False) -> Outcome:
    """Run the real entry point in-process and judge the result against the invariant."""
    from hvcheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    t0 = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, per_input)
    try:
        with contextlib.ExitStack() as stack:
            if capture_stdout:
                stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(err))
            main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except Hang:
        return Outcome(False, None, f"no answer within {per_input:.0f} s", time.perf_counter() - t0, problem="hang")
    except BaseException as exc:  # noqa: BLE001 - anything escaping main is the crash we look for
        return Outcome(False, None, f"escaped main: {type(exc).__name__}: {exc}", time.perf_counter() - t0,
                       problem="internal")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    dt = time.perf_counter() - t0
    stderr = err.getvalue()
    if code not in (0, 1, 2):
        return Outcome(False, code, f"exit status {code}", dt, problem="exit")
    if "internal error" in stderr or "Traceback" in stderr:
        return Outcome(False, code, stderr.strip()[:2000], dt, problem="internal")
    if "too large to analyse in memory" in stderr:
        return Outcome(False, code, "MemoryError under the memory limit", dt, problem="ceiling")
    if output_failure:
        if code == 0:
            return Outcome(False, code, "the report could not be written, yet the exit status is 0", dt,
                           problem="output")
        return Outcome(True, code, "", dt)
    if code == 2:
        lines = stderr.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            return Outcome(False, code, f"exit 2 without a one-line error: {stderr[:500]!r}", dt, problem="format")
    return Outcome(True, code, "", dt)


def _release_free_memory() -> None:
    """Give freed memory back to the OS so the next input's peak is measured from a true start."""
    import ctypes

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def run_measured(argv: list[str], per_input: float, input_bytes: int, base_kib: int) -> Outcome:
    """``run_one`` in this process with its peak RSS measured (faster than a fork; used for
    mutated files, where nothing can block outside Python)."""
    _release_free_memory()
    fresh = _reset_peak()
    start = _status_kib("VmRSS")
    outcome = run_one(argv, per_input)
    outcome.peak_kib = max(0, _status_kib("VmHWM") - start) if fresh else 0
    return _judge_memory(outcome, input_bytes, base_kib)


def _judge_memory(outcome: Outcome, input_bytes: int, base_kib: int) -> Outcome:
    ceiling = MEMORY_FACTOR * input_bytes // 1024 + base_kib
    if outcome.ok and outcome.peak_kib > ceiling:
        outcome.ok = False
        outcome.problem = "ceiling"
        outcome.what = (f"peak RSS {outcome.peak_kib} KiB above the start exceeds {MEMORY_FACTOR} x {input_bytes} "
                        f"bytes of input + {base_kib} KiB = {ceiling} KiB")
    return outcome


# ---------------------------------------------------------------- one input in a forked child


@dataclass(frozen=True)
class Input:
    """One thing to feed a target: mutated bytes, or a special setting of the input, stdin or stdout."""

    kind: str
    data: bytes | None = None        # the file's new content (None: keep the seed)
    special: str | None = None       # replace the input file by: fifo, dev-zero, dev-urandom, socket, directory
    stdin: str | None = None         # "closed", "zero", "urandom", "data" (the seed's bytes on fd 0)
    stdout: str | None = None        # "full", "closed", "broken-pipe"
    argv: tuple[str, ...] | None = None   # replaces the target's argv ("{input}" etc. substituted)
    note: str = ""

    def describe(self) -> str:
        parts = [self.kind] + [f"{k}={v}" for k, v in (("special", self.special), ("stdin", self.stdin),
                                                       ("stdout", self.stdout)) if v]
        if self.argv:
            parts.append(f"argv={list(self.argv)}")
        return " ".join(parts + ([self.note] if self.note else []))


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Start the peak-RSS ("high water mark") count afresh (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _child_io(stdin: str | None, stdout: str | None, stdin_file: Path | None) -> None:
    if stdin == "closed":
        os.close(0)
        sys.stdin = None  # type: ignore[assignment]   # as Python starts with fd 0 closed
    elif stdin in ("zero", "urandom", "data"):
        src = {"zero": "/dev/zero", "urandom": "/dev/urandom"}.get(stdin, str(stdin_file))
        fd = os.open(src, os.O_RDONLY)
        os.dup2(fd, 0)
        os.close(fd)
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    else:
        fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)
        os.close(fd)
    if stdout == "full":
        fd = os.open("/dev/full", os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)
    elif stdout == "broken-pipe":
        r, w = os.pipe()
        os.close(r)
        os.dup2(w, 1)
        os.close(w)
    if stdout == "closed":
        os.close(1)
        sys.stdout = None  # type: ignore[assignment]
    elif stdout is not None:
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")


def run_forked(argv: list[str], per_input: float, input_bytes: int, base_kib: int, *, stdin: str | None = None,
               stdout: str | None = None, stdin_file: Path | None = None,
               output_failure: bool = False) -> Outcome:
    """``run_one`` in a forked child: a hang anywhere (even in C) is killed, a crash is caught, and
    the child's peak RSS above this process's is checked against MEMORY_FACTOR x input + base."""
    baseline = _status_kib("VmRSS")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(r)
            _child_io(stdin, stdout, stdin_file)
            # The child's own start, not the parent's RSS: a fork maps file pages lazily.
            fresh = _reset_peak()
            start = _status_kib("VmRSS")
            outcome = run_one(argv, per_input, capture_stdout=stdout is None, output_failure=output_failure)
            outcome.peak_kib = _status_kib("VmHWM") - start if fresh else -1
            os.write(w, json.dumps(asdict(outcome)).encode())
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    os.close(w)
    t0 = time.perf_counter()
    chunks: list[bytes] = []
    deadline = time.monotonic() + per_input + GRACE_S
    killed = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(r)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    peak = max(0, usage.ru_maxrss - baseline)
    if killed:
        return Outcome(False, None, f"no answer within {per_input + GRACE_S:.0f} s (killed)", seconds, peak, "hang")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return Outcome(False, None, f"killed by signal {signal.Signals(sig).name}", seconds, peak, "crash")
    try:
        doc = json.loads(b"".join(chunks))
        outcome = Outcome(**doc)
    except (ValueError, TypeError):
        return Outcome(False, None, f"the child exited with status {os.WEXITSTATUS(status)} and no verdict", seconds,
                       peak, "crash")
    if outcome.peak_kib >= 0:
        peak = outcome.peak_kib
    outcome.peak_kib = peak
    return _judge_memory(outcome, input_bytes, base_kib)


# ---------------------------------------------------------------- workspaces


class Workspace:
    """A scratch copy of a target's input (and its tree) that each input overwrites."""

    def __init__(self, target: Target, seed: Path, scratch: Path) -> None:
        self.target = target
        self.seed = seed
        self.dir = scratch / target.name / hashlib.sha1(str(seed).encode()).hexdigest()[:8]
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
        self.original = seed.read_bytes()
        self.input.write_bytes(self.original)

    def argv(self, template: tuple[str, ...] | None = None) -> list[str]:
        # "{tree}"/"{board}": the board directory that holds (or uses) the mutated file;
        # "{root}": the copy of the target's whole tree; "{scratch}": a directory for outputs.
        subst = {"{input}": str(self.input), "{tree}": str(self.board), "{board}": str(self.board),
                 "{root}": str(self.tree), "{scratch}": str(self.dir)}
        out = []
        for arg in template or self.target.argv:
            for key, value in subst.items():
                arg = arg.replace(key, value)
            out.append(arg)
        return out

    def _clear(self) -> None:
        if self.input.is_dir() and not self.input.is_symlink():
            shutil.rmtree(self.input)
        elif self.input.exists() or self.input.is_symlink():
            self.input.unlink()

    def write(self, data: bytes) -> None:
        self._clear()
        self.input.write_bytes(data)

    def make_special(self, kind: str) -> None:
        self._clear()
        if kind == "fifo":
            os.mkfifo(self.input)
        elif kind in ("dev-zero", "dev-urandom", "dev-null"):
            self.input.symlink_to("/dev/" + kind.removeprefix("dev-"))
        elif kind == "socket":
            # bind where the path is short enough for AF_UNIX (108 bytes), then move it into place
            short = Path(tempfile.mkdtemp(prefix="hvs-")) / "s"
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(str(short))
            os.rename(short, self.input)
            short.parent.rmdir()
        elif kind == "directory":
            self.input.mkdir()
        else:
            raise ValueError(kind)

    def restore(self) -> None:
        self.write(self.original)


def _board_dir(seed: Path) -> Path:
    """The directory holding board.rs for a seed inside an hvisor fixture tree."""
    for parent in [seed.parent, *seed.parents]:
        if (parent / "board.rs").is_file():
            return parent
        if parent == ROOT:
            break
    return seed.parent


# ---------------------------------------------------------------- what to feed each target

SPECIALS = ("fifo", "dev-zero", "dev-urandom", "dev-null", "socket", "directory")
STDOUTS = ("full", "closed", "broken-pipe")


def _gzip(data: bytes, level: int = 6) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def gzip_bomb(unit: bytes, total: int) -> bytes:
    """``total`` bytes of ``unit`` repeated, gzip-compressed (~1000x) without holding them."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = unit * max(1, (1 << 20) // len(unit))
    out = [c.compress(block) for _ in range(max(1, total // len(block)))]
    return b"".join(out) + c.flush()


_BOMB_UNITS = {"zeros": b"\0", "one-line": b"A", "short-lines": b"hello world\n", "long-lines": b"x" * 70000 + b"\n",
               "oops-storm": b"[    1.234567] Unable to handle kernel paging request at virtual address 0\n"}


class Feeder:
    """The inputs for one target: the seeds, then mutations and every special kind in turn."""

    def __init__(self, target: Target, seeds: list[bytes], rnd: random.Random, bomb_bytes: int) -> None:
        self.target = target
        self.seeds = seeds
        self.rnd = rnd
        self.bomb_bytes = bomb_bytes
        self._bombs: dict[str, bytes] = {}

    def structured(self) -> list[str]:
        t = self.target
        kinds = ["huge-int"] if not t.binary else []
        if t.name in ("layout-yaml",):
            kinds.append("yaml-alias")
        if t.name in ("hv-elf", "riscv-elf"):
            kinds.append("elf-header")
        if t.name == "dtb":
            kinds.append("dtb-header")
        if t.name == "patch":
            kinds.append("hunks")
        if t.name in ("triage-log", "conformance-results"):
            kinds += ["gzip", "gzip-bomb"]
        return kinds

    def fixed(self) -> list[Input]:
        """Every special file, stdin and output variant once (the same for every seed)."""
        out = [Input("special", special=s) for s in SPECIALS]
        out += [Input("output", stdout=s) for s in STDOUTS]
        out += [Input("output", argv=(*self.target.argv, "--output", "/dev/full"), note="--output /dev/full"),
                Input("output", argv=(*self.target.argv, "--output", "{scratch}"), note="--output DIR")]
        if "{input}" in self.target.argv and self.target.tree is None:
            stdin_argv = tuple("/dev/stdin" if a == "{input}" else a for a in self.target.argv)
            out.append(Input("stdin", stdin="data", argv=stdin_argv, note="input as /dev/stdin"))
            if self.target.name == "triage-log":
                dash = tuple("-" if a == "{input}" else a for a in self.target.argv)
                out += [Input("stdin", stdin=s, argv=dash) for s in ("data", "closed", "zero", "urandom")]
        return out

    def one(self, k: int) -> Input:
        """The k-th generated input (mutations interleaved with structured kinds)."""
        rnd = self.rnd
        seed = self.seeds[rnd.randrange(len(self.seeds))]
        kinds = self.structured()
        if kinds and k % 3 == 2:
            kind = kinds[(k // 3) % len(kinds)]
            return self.structured_input(kind, seed)
        return Input("mutation", mutate(seed, rnd))

    def structured_input(self, kind: str, seed: bytes) -> Input:
        rnd = self.rnd
        if kind == "huge-int":
            return Input(kind, huge_number(seed, rnd))
        if kind == "yaml-alias":
            return Input(kind, yaml_aliases(seed, rnd))
        if kind == "elf-header":
            return Input(kind, elf_fields(seed, rnd))
        if kind == "dtb-header":
            return Input(kind, dtb_fields(seed, rnd))
        if kind == "hunks":
            return Input(kind, many_hunks(seed, rnd))
        if kind == "gzip":
            return Input(kind, _gzip(mutate(seed, rnd)))
        if kind == "gzip-bomb":
            name = rnd.choice(sorted(_BOMB_UNITS))
            if name not in self._bombs:
                self._bombs[name] = gzip_bomb(_BOMB_UNITS[name], self.bomb_bytes)
            return Input(kind, self._bombs[name], note=f"{name}, {self.bomb_bytes >> 20} MiB inflated")
        raise ValueError(kind)


# ---------------------------------------------------------------- the loop


@dataclass
class Stats:
    inputs: int = 0
    crashes: int = 0
    exit: dict[str, int] = field(default_factory=lambda: {"0": 0, "1": 0, "2": 0})
    kinds: dict[str, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    max_s: float = 0.0
    slowest: str = ""
    max_peak_kib: int = 0
    max_peak_input: int = 0


def fuzz(targets: list[Target], budget: float, per_input: float, seed: int, save_dir: Path,
         inputs: int | None = None, base_kib: int = 48 << 10, bomb_bytes: int = 64 << 20,
         skip: tuple[str, ...] = (), fork: bool = False, no_ceiling: tuple[str, ...] = ()) -> dict[str, object]:
    """Fuzz each target for an equal share of ``budget`` seconds, or — when ``inputs`` is given —
    for exactly that many generated inputs per target plus the fixed special inputs
    (deterministic for a given seed: CI uses it)."""
    rnd = random.Random(seed)
    report: dict[str, object] = {"seed": seed, "budget_s": budget, "targets": {}, "base_kib": base_kib}
    live = [(t, t.seed_files()) for t in targets]
    report["skipped_no_fixtures"] = [t.name for t, files in live if not files]
    live = [(t, files) for t, files in live if files]
    if not live:
        report["targets"] = {}
        return report
    deadline = time.monotonic() + budget
    slice_s = budget / len(live)
    per_target: dict[str, Stats] = {}
    with tempfile.TemporaryDirectory(prefix="hvcheck-fuzz-") as scratch:
        for target, files in live:
            stats = per_target[target.name] = Stats()
            stop = min(deadline, time.monotonic() + slice_s)
            spaces = [Workspace(target, f, Path(scratch)) for f in files]
            feeder = Feeder(target, [ws.original for ws in spaces], rnd, bomb_bytes)
            # Every seed first, unmutated and in-process (this also imports what the target needs,
            # so forked children measure the input's cost, not the imports').
            for ws in spaces:
                _record(stats, Input("seed"), run_one(ws.argv(), per_input), ws, save_dir, None)
            # What exists now (modules, caches) is never garbage: keep the collector (run before each
            # measured input) and forked children from walking it.
            gc.collect()
            gc.freeze()
            def skipped(item: Input, name: str = target.name) -> bool:
                return any(text in f"{name}: {item.describe()}" for text in skip)

            fixed = [(ws, item) for item in feeder.fixed() for ws in spaces[:1] if not skipped(item)]
            k = 0
            while True:
                if inputs is not None:
                    if k >= inputs and not fixed:
                        break
                elif time.monotonic() >= stop:
                    break
                if fixed and (inputs is not None and k >= inputs or k % 10 == 9):
                    ws, item = fixed.pop(0)
                else:
                    ws, item = spaces[rnd.randrange(len(spaces))], feeder.one(k)
                    k += 1
                    if skipped(item):
                        continue
                outcome = _run_input(ws, item, per_input, base_kib, fork)
                if target.name in no_ceiling and outcome.problem == "ceiling":
                    outcome = Outcome(True, outcome.code, "", outcome.seconds, outcome.peak_kib)
                _record(stats, item, outcome, ws, save_dir, item.data)
                ws.restore()
    report["targets"] = {name: asdict(s) for name, s in per_target.items()}
    return report


def _run_input(ws: Workspace, item: Input, per_input: float, base_kib: int, fork: bool) -> Outcome:
    if item.special is not None:
        ws.make_special(item.special)
    elif item.data is not None:
        ws.write(item.data)
    argv = ws.argv(item.argv)
    size = len(item.data) if item.data is not None else (0 if item.special else len(ws.original))
    stdin_file = ws.input if item.stdin == "data" else None
    if not fork and item.special is None and item.stdin is None and item.stdout is None and item.kind != "output":
        return run_measured(argv, per_input, size, base_kib)
    return run_forked(argv, per_input, size, base_kib, stdin=item.stdin, stdout=item.stdout, stdin_file=stdin_file,
                      output_failure=item.kind == "output")


def _record(stats: Stats, item: Input, outcome: Outcome, ws: Workspace, save_dir: Path, data: bytes | None) -> None:
    stats.inputs += 1
    stats.kinds[item.kind] = stats.kinds.get(item.kind, 0) + 1
    if outcome.seconds > stats.max_s:
        stats.max_s = round(outcome.seconds, 3)
        stats.slowest = f"{item.describe()} ({len(data) if data is not None else 0} B)"
    if outcome.peak_kib > stats.max_peak_kib:
        stats.max_peak_kib = outcome.peak_kib
        stats.max_peak_input = len(data) if data is not None else 0
    if outcome.code in (0, 1, 2):
        stats.exit[str(outcome.code)] += 1
    if not outcome.ok:
        stats.crashes += 1
        stats.problems[outcome.problem] = stats.problems.get(outcome.problem, 0) + 1
        _save(save_dir / ws.target.name, ws, item, data, outcome)


def _save(where: Path, ws: Workspace, item: Input, data: bytes | None, outcome: Outcome) -> None:
    where.mkdir(parents=True, exist_ok=True)
    payload = data if data is not None else item.describe().encode()
    digest = hashlib.sha1(payload).hexdigest()[:16]
    name = f"{digest}-{ws.input.name}"
    if data is not None and len(data) <= 8 << 20:
        (where / name).write_bytes(data)
    (where / f"{name}.txt").write_text(
        f"target: {ws.target.name}\nseed file: {ws.seed.relative_to(ROOT)}\nargv: {list(item.argv or ws.target.argv)}\n"
        f"input: {item.describe()}\noutcome: {outcome.what}\nproblem: {outcome.problem}\nexit: {outcome.code}\n"
        f"seconds: {outcome.seconds:.2f}\npeak KiB: {outcome.peak_kib}\n")


def _limit_memory(mib: int) -> None:
    limit = mib << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def summary_lines(report: dict[str, object]) -> Iterator[str]:
    kinds: dict[str, int] = {}
    problems: dict[str, int] = {}
    for name, stats in report["targets"].items():  # type: ignore[attr-defined]
        for k, v in stats["kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
        for k, v in stats["problems"].items():
            problems[k] = problems.get(k, 0) + v
        yield (f"{name:<20} {stats['inputs']:>6} inputs  exits 0/1/2: {stats['exit']['0']}/{stats['exit']['1']}/"
               f"{stats['exit']['2']}  slowest {stats['max_s']:.2f} s  peak {stats['max_peak_kib'] / 1024:.1f} MiB (input {stats['max_peak_input']} B)  "
               f"violations {stats['crashes']}")
    yield "by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    yield "violations by problem: " + (", ".join(f"{k} {v}" for k, v in sorted(problems.items())) or "none")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=120.0, help="total seconds over all targets")
    ap.add_argument("--per-input", type=float, default=10.0, help="time bound for one input, seconds")
    ap.add_argument("--memory", type=int, default=4096, help="address-space limit of the fuzzing process, MiB")
    ap.add_argument("--base-mib", type=int, default=48, help="peak RSS allowed per input beyond 10 x its size, MiB")
    ap.add_argument("--bomb-mib", type=int, default=64, help="inflated size of the gzip bombs, MiB")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--inputs", type=int, help="exactly N generated inputs per target instead of a time budget")
    ap.add_argument("--target", action="append", help="fuzz only these targets (repeatable)")
    ap.add_argument("--save-dir", type=Path, default=ROOT / "fuzz" / "crashes")
    ap.add_argument("--json", type=Path, help="also write the report here")
    ap.add_argument("--fork", action="store_true",
                    help="every input in its own forked process (slower; a hang in C code is killed too). "
                         "Without it only special files, stdin and output failures are forked")
    ap.add_argument("--skip", action="append", default=[],
                    help="leave out the inputs whose 'TARGET: KIND details' contains this (e.g. 'stdout=', "
                         "'patch: hunks')")
    ap.add_argument("--no-ceiling", action="append", default=[],
                    help="do not enforce the memory ceiling for this target (a known, tracked breach)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    targets = [by_name(n) for n in args.target] if args.target else TARGETS
    if args.child:
        report = fuzz(targets, args.budget, args.per_input, args.seed, args.save_dir, args.inputs,
                      base_kib=args.base_mib << 10, bomb_bytes=args.bomb_mib << 20, skip=tuple(args.skip),
                      fork=args.fork, no_ceiling=tuple(args.no_ceiling))
        print(json.dumps(report))
        return 0
    child = [sys.executable, "-m", "fuzz.runner", "--child", "--budget", str(args.budget), "--per-input",
             str(args.per_input), "--seed", str(args.seed), "--save-dir", str(args.save_dir), "--base-mib",
             str(args.base_mib), "--bomb-mib", str(args.bomb_mib)]
    if args.inputs is not None:
        child += ["--inputs", str(args.inputs)]
    for text in args.skip:
        child += ["--skip", text]
    if args.fork:
        child.append("--fork")
    for name in args.no_ceiling:
        child += ["--no-ceiling", name]
    for t in targets:
        child += ["--target", t.name]
    t0 = time.monotonic()
    proc = subprocess.run(child, cwd=ROOT, capture_output=True, text=True,
                          preexec_fn=lambda: _limit_memory(args.memory),
                          timeout=None if args.inputs is not None else args.budget * 2 + 10 * args.per_input + 600)
    if proc.returncode != 0:
        print(f"fuzz: the fuzzing process died (status {proc.returncode}): {proc.stderr[-2000:]}", file=sys.stderr)
        return 1
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["seconds"] = round(time.monotonic() - t0, 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    crashes = sum(s["crashes"] for s in report["targets"].values())
    for line in summary_lines(report):
        print(line)
    for name in report["skipped_no_fixtures"]:
        print(f"{name:<20} skipped: no fixtures found for this reader")
    print(f"fuzz: {report['seconds']} s")
    print(f"fuzz: {crashes} violation(s); saved under {args.save_dir}" if crashes else "fuzz: no crashes")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
