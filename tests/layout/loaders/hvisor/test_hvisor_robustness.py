"""Mutated hvisor inputs: the loader gives a System or an InputError, never anything else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvcheck.errors import InputError
from hvcheck.layout.loaders.hvisor import load_hvisor_board
from hvcheck.layout.rules import run_rules
from tests.conftest import FIXTURES

BOARD = "platform/riscv64/variants"
TARGETS = ["board.rs", "configs/zone1-linux.json", "image/dts/zone0.dts", "linker.ld"]


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("hv") / "repo"
    shutil.copytree(FIXTURES / "hvisor" / "repo", dst)
    return dst


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(TARGETS), data=st.data())
def test_mutations_never_crash(repo_copy: Path, target: str, data) -> None:
    path = repo_copy / BOARD / target
    original = (FIXTURES / "hvisor" / "repo" / BOARD / target).read_bytes()
    start = data.draw(st.integers(0, len(original)))
    end = data.draw(st.integers(start, min(len(original), start + 40)))
    insert = data.draw(st.binary(max_size=6) | st.sampled_from([b"", b"{", b"}", b";", b",", b"0x", b"//", b"/*",
                                                                  b"\"", b"<<<<<<< x\n", b"\xff"]))
    path.write_bytes(original[:start] + insert + original[end:])
    try:
        system = load_hvisor_board(repo_copy / BOARD)
        run_rules(system)
    except InputError as exc:
        assert exc.message
    finally:
        path.write_bytes(original)
