"""hvcheck.inputs: only regular files (and the process's own stdin) are read; a FIFO without a
writer, /dev/zero, /dev/urandom or a socket is one clear error in milliseconds, for every command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hvcheck.errors import InputError
from hvcheck.inputs import read_capped, read_head
from tests.conftest import ROOT, run_hvcheck


def _fifo(tmp_path: Path) -> Path:
    p = tmp_path / "pipe"
    os.mkfifo(p)
    return p


def _socket(tmp_path: Path) -> Path:
    p = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(p))
    return p


@pytest.mark.parametrize(("make", "kind"), [
    (_fifo, "a named pipe (FIFO)"),
    (lambda _: Path("/dev/zero"), "a character device"),
    (lambda _: Path("/dev/urandom"), "a character device"),
    (_socket, "a socket"),
])
def test_special_files_are_refused_without_blocking(tmp_path: Path, make, kind: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    t0 = time.monotonic()
    with pytest.raises(InputError) as info:
        read_capped(path, 1 << 20, "things")
    assert time.monotonic() - t0 < 2
    assert info.value.message == f"is {kind}, not a regular file (reading it could block or never end)"
    assert read_head(path, 16) is None


def test_stdin_may_be_anything_the_user_connected(tmp_path: Path) -> None:
    """A pipe on stdin, named as /dev/stdin, is read (bounded); the same pipe by another name is not."""
    code = ("from hvcheck.inputs import read_capped; import sys; "
            "sys.stdout.write(read_capped('/dev/stdin', 10, 'x').decode())")
    proc = subprocess.run([sys.executable, "-c", code], input="hello", capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout == "hello", proc.stderr


@pytest.mark.parametrize("argv", [
    ["riscv", "{p}"], ["layout", "{p}"], ["cpuid", "{p}"], ["ioctl", "--trace", "{p}"], ["backport", "{p}", "{p}"],
    ["riscv-conformance", "--results", "{p}"], ["xcr0", "0x3", "--cpuid", "{p}"], ["fix", "{p}"],
    ["layout", str(ROOT / "tests/fixtures/hvisor/repo/platform/aarch64/clean"), "--elf", "{p}"],
])
@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom"])
def test_every_command_refuses_special_files(tmp_path: Path, argv: list[str], special: str) -> None:
    path = str(_fifo(tmp_path)) if special == "fifo" else special
    proc = run_hvcheck(*[a.replace("{p}", path) for a in argv])
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"error: {path}: is a ")
    assert "not a regular file" in proc.stderr
