"""Every command that reads a file, given what a hostile or careless user gives it: a named pipe
with no writer, /dev/zero, /dev/urandom, binary junk, a missing path, a directory. Each must end
in milliseconds-to-seconds with exit status 2 and exactly one line `error: path[:line]: what`
naming the input — never a hang, an unbounded read, a traceback or click's multi-line usage text.

The slots are checked against the commands' own click parameters: a new file-taking option
without a row here fails ``test_every_file_option_is_covered``.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import time
from pathlib import Path

import click
import pytest

from tests.conftest import ROOT

CLEAN_BOARD = ROOT / "tests/fixtures/hvisor/repo/platform/aarch64/clean"
LAYOUT = ROOT / "hvcheck/demo/examples/layout/seed001-stomp.yaml"
PATCH = ROOT / "hvcheck/demo/examples/backport/upstream.patch"
LOG = ROOT / "hvcheck/demo/examples/triage/seed002-qemu-int.log"
JAILHOUSE_C = ROOT / "tests/fixtures/jailhouse/tree/configs/arm64/demo.c"
PROBE = ROOT / "hvcheck/demo/examples/kvm/seed000-uos-5.10-probe.json"

# (command, parameter name, argv with {p} where the hostile input goes)
SLOTS: list[tuple[str, str, list[str]]] = [
    ("layout", "paths", ["layout", "{p}"]),
    ("layout", "jailhouse_src", ["layout", str(JAILHOUSE_C), "--jailhouse-src", "{p}"]),
    ("layout", "scenario", ["layout", str(JAILHOUSE_C), "--scenario", "{p}"]),
    ("layout", "elf", ["layout", str(CLEAN_BOARD), "--elf", "{p}"]),
    ("layout", "root_dts", ["layout", str(CLEAN_BOARD), "--root-dts", "{p}"]),
    ("layout", "config", ["layout", str(LAYOUT), "--config", "{p}"]),
    ("layout", "baseline", ["layout", str(LAYOUT), "--baseline", "{p}"]),
    ("explain", "layout_path", ["explain", "0x80000000", "--layout", "{p}"]),
    ("explain", "elf", ["explain", "0x80000000", "--layout", str(CLEAN_BOARD), "--elf", "{p}"]),
    ("changed", "files", ["changed", "{p}"]),
    ("map", "paths", ["map", "{p}"]),
    ("map", "elf", ["map", str(CLEAN_BOARD), "--elf", "{p}"]),
    ("map", "root_dts", ["map", str(CLEAN_BOARD), "--root-dts", "{p}"]),
    ("fix", "path", ["fix", "{p}"]),
    ("fix", "elf", ["fix", str(CLEAN_BOARD), "--elf", "{p}"]),
    ("xcr0", "cpuid_dump", ["xcr0", "0x3", "--cpuid", "{p}"]),
    ("cpuid", "dump", ["cpuid", "{p}"]),
    ("ioctl", "trace_files", ["ioctl", "--trace", "{p}"]),
    ("kvm", "from_path", ["kvm", "--from", "{p}"]),
    # --cpuid is read before the device is opened: no KVM needed
    ("kvm", "cpuid_path", ["kvm", "--device", "/nonexistent/kvm", "--cpuid", "{p}"]),
    ("riscv", "elfs", ["riscv", "{p}"]),
    ("riscv-conformance", "results", ["riscv-conformance", "--results", "{p}"]),
    ("backport", "upstream", ["backport", "{p}", str(PATCH)]),
    ("backport", "backport", ["backport", str(PATCH), "{p}"]),
    ("triage", "logs", ["triage", "{p}"]),
    ("triage", "layout", ["triage", str(LOG), "--layout", "{p}"]),
    ("triage", "elf", ["triage", str(LOG), "--elf", "{p}"]),
    ("triage", "cpuid", ["triage", str(LOG), "--cpuid", "{p}"]),
    ("triage", "riscv_elf", ["triage", str(LOG), "--riscv-elf", "{p}"]),
]
# Options every command has; one row above covers their one shared code path.
COMMON = {"config", "baseline"}
# Parameters that are not input files: where output goes, a root for SARIF paths, a git
# revision or directory to look things up in, a device node the user names on purpose.
NOT_INPUTS = {"output", "sarif_root", "write_baseline", "save_path", "repo", "upstream_tree", "backport_tree",
              "device"}
# String-typed parameters that are files (they also accept `-` or a git revision).
STRING_FILES = {("backport", "upstream"), ("backport", "backport"), ("triage", "logs"), ("kvm", "from_path"),
                ("layout", "baseline")}


# `changed` checks the layouts its files belong to; a file that belongs to none is not read, so
# the only demand on it is the general one: no hang, and exit 2 only with one error line.
NOT_READ = {("changed", "files")}



def _fifo(tmp: Path) -> str:
    p = tmp / "pipe"
    os.mkfifo(p)
    return str(p)


def _junk(tmp: Path) -> str:
    p = tmp / "junk.bin"
    p.write_bytes(bytes(range(256)) * 8 + os.urandom(2048) + b"\0" * 1024)
    return str(p)


def _directory(tmp: Path) -> str:
    d = tmp / "empty-dir"
    d.mkdir()
    return str(d)


HOSTILE = {
    "fifo": _fifo,
    "dev-zero": lambda _: "/dev/zero",
    "dev-urandom": lambda _: "/dev/urandom",
    "junk": _junk,
    "missing": lambda tmp: str(tmp / "no-such-file"),
    "directory": _directory,
}


def run_cli(argv: list[str], timeout: float = 20.0) -> tuple[int | None, str, float]:
    """hvcheck's entry point in a forked child (stdin /dev/null, stdout discarded): its exit
    status (None when it had to be killed), its stderr and the seconds it took."""
    from hvcheck.cli import main

    r, w = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 3
        err = io.StringIO()
        try:
            os.close(r)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                try:
                    main(argv)
                    code = 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # noqa: BLE001 - reported to the parent as a crash
            err.write(f"escaped main: {type(exc).__name__}: {exc}\n")
            code = 3
        finally:
            os.write(w, err.getvalue().encode()[:1 << 15])
            os._exit(code)
    os.close(w)
    chunks = []
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            return None, b"".join(chunks).decode(errors="replace"), time.monotonic() - t0
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    return code, b"".join(chunks).decode(errors="replace"), seconds


def test_every_file_option_is_covered() -> None:
    from hvcheck.cli import COMMANDS, cli

    ctx = click.Context(cli)
    covered = {(c, p) for c, p, _ in SLOTS}
    missing = []
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        for param in command.params:
            if param.name in NOT_INPUTS or param.name in COMMON:
                continue
            is_file = isinstance(param.type, (click.Path, click.File)) or (name, param.name) in STRING_FILES
            if is_file and (name, param.name) not in covered:
                missing.append(f"{name} {param.name}")
    assert not missing, f"file inputs with no hostile-input row: {missing}"
    for c, p in STRING_FILES:
        assert any(param.name == p for param in cli.get_command(ctx, c).params), f"{c} has no parameter {p}"


@pytest.mark.parametrize(("command", "param", "argv"), SLOTS, ids=[f"{c}-{p}" for c, p, _ in SLOTS])
def test_hostile_input_is_one_error_line(tmp_path: Path, command: str, param: str, argv: list[str]) -> None:
    failures = []
    for kind, make in HOSTILE.items():
        path = make(tmp_path)
        code, stderr, seconds = run_cli([a.replace("{p}", path) for a in argv])
        lines = stderr.splitlines()
        if code is None:
            failures.append(f"{kind}: no answer within 20 s")
        elif (command, param) in NOT_READ and code != 2:
            continue
        elif code != 2 or len(lines) != 1 or not lines[0].startswith(f"error: {path}"):
            failures.append(f"{kind}: exit {code}, stderr {stderr[:300]!r}")
        elif kind == "fifo" and "named pipe" not in lines[0]:
            failures.append(f"{kind}: {lines[0]!r} does not say it is a named pipe")
        elif kind.startswith("dev-") and "character device" not in lines[0]:
            failures.append(f"{kind}: {lines[0]!r} does not say it is a character device")
        elif seconds > 10:
            failures.append(f"{kind}: {seconds:.1f} s")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_closed_stdout_is_one_error_line_not_a_bug_report(fmt: str) -> None:
    """`hvcheck layout X >&-`: stdout closed. It was an internal error ('NoneType' has no
    attribute 'isatty', 14 campaign violations); click.echo would have dropped the report and exited 0."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "hvcheck", "layout", str(LAYOUT), "--format", fmt],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120, cwd=ROOT,
                          preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "error: <stdout>: cannot write the report: standard output is closed\n"
