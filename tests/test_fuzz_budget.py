"""The bounded fuzzing budget CI runs: a fixed, seeded set of mutations of every reader's fixtures
(deterministic, so CI is reproducible) and a short coverage-guided atheris run. Longer runs are
one command each (docs/fuzzing.md)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

from fuzz.targets import TARGETS

INPUTS_PER_TARGET = 100
# Inputs still outside the budget: none. Patches with thousands of hunks came in once hunk pairing
# stayed linear when changed lines repeat (docs/fuzzing.md); closed/full/broken stdout, `triage -`
# with stdin closed, a FIFO given to triage and the DTS reader's memory came in before.
NOT_YET_MERGED: list[str] = []
CEILING_NOT_YET_MERGED: list[str] = []


def test_every_target_has_fixtures_when_its_reader_exists() -> None:
    readers = {"triage-log": "hvcheck.triage"}
    for t in TARGETS:
        if t.name in readers and (readers[t.name] is None or importlib.util.find_spec(readers[t.name]) is None):
            continue
        assert t.seed_files(), f"fuzz target {t.name} has no fixtures: its globs match nothing"


def test_seeded_mutation_budget_finds_no_crash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    skips = [arg for text in NOT_YET_MERGED for arg in ("--skip", text)]
    skips += [arg for name in CEILING_NOT_YET_MERGED for arg in ("--no-ceiling", name)]
    proc = subprocess.run([sys.executable, "-m", "fuzz.runner", "--inputs", str(INPUTS_PER_TARGET),
                           "--seed", "2026", "--save-dir", str(tmp_path), *skips], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr + "".join(
        p.read_text() for p in tmp_path.rglob("*.txt"))
    assert "fuzz: no crashes" in proc.stdout
    # every kind of input reached the readers: special files, stdin, output failures, structured
    kinds = proc.stdout.split("by kind: ")[1].splitlines()[0]
    for kind in ("mutation", "huge-int", "special", "stdin", "output", "elf-header", "dtb-header", "yaml-alias",
                 "gzip-bomb"):
        assert f"{kind} " in kinds, f"no {kind} inputs: {kinds}"


@pytest.mark.parametrize("target", ["layout-yaml", "board-rs", "dts", "patch", "cpuid-dump", "riscv-elf"])
def test_atheris_short_run(target: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("atheris") is None:
        if os.environ.get("CI"):
            pytest.fail("atheris is a test dependency and must be installed in CI")
        pytest.skip("atheris not installed")
    proc = subprocess.run([sys.executable, "-m", "fuzz.atheris_harness", target, "-runs=1000", "-seed=1",
                           f"-artifact_prefix={tmp_path}/"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HVCHECK_FUZZ_CORPUS": str(tmp_path / "corpus")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    # libFuzzer counts the run that ends the loop too: "Done 1000 runs" or, on some inputs, 1001
    done = re.search(r"Done (\d+) runs", proc.stderr)
    assert done is not None and int(done.group(1)) >= 1000, proc.stderr[-3000:]
