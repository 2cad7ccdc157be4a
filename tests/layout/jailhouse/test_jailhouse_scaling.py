"""A large Jailhouse set stays n log n, and the loader's shortcuts build the same model objects.

The sets are the benchmark's (benchmarks/bench_jailhouse.py: a root with n/2 RAM regions, every
one cut by one of two cells with n/4 regions each, the worst case for the root's bookkeeping)."""

from __future__ import annotations

import dataclasses
import gc
import time
from pathlib import Path

from benchmarks.bench_jailhouse import _write_set
from hvcheck.layout.loaders import LoadOptions, load_paths
from hvcheck.layout.model import Region, System
from hvcheck.layout.rules import run_rules


def _check(paths: list[Path]) -> tuple[System, int]:
    system = load_paths([str(p) for p in paths], LoadOptions())
    return system, len(run_rules(system))


def _cpu_seconds(tmp_path: Path, n: int, repeat: int) -> float:
    """The least CPU time of loading and checking a fresh copy of the n-region set (fresh files:
    the loader keeps parsed configs by path for --all)."""
    best = float("inf")
    for k in range(repeat):
        paths = _write_set(tmp_path / f"{n}-{k}", n)
        t0 = time.process_time()   # CPU time: not inflated by other load on the machine
        _check(paths)
        best = min(best, time.process_time() - t0)
    return best


def test_ten_times_the_regions_cost_less_than_twenty_times_the_time(tmp_path: Path) -> None:
    """n log n from the loader (the root's carving: one sorted pass, not per cell per region)
    through every rule: 10x the regions cost about 10x (a quadratic step costs 100x)."""
    _cpu_seconds(tmp_path / "warm", 200, 1)           # imports and first-call costs out of the ratio
    small = _cpu_seconds(tmp_path, 2_000, 3)
    large = _cpu_seconds(tmp_path, 20_000, 2)
    assert large < 20 * small, f"20,000 regions took {large / small:.1f}x the CPU time of 2,000"


def test_the_large_set_is_read_whole(tmp_path: Path) -> None:
    """What the growth test times is the full check: every region read, every root region cut."""
    system, _ = _check(_write_set(tmp_path, 2_000))
    root = system.root
    assert root is not None
    assert sum(len(z.regions) for z in system.zones if not z.root) >= 1_000
    assert len(root.taken) >= 1_000
    cut = [r for r in root.regions if r.label and "no cell takes" in r.label]
    assert len(cut) >= 1_000


def test_regions_built_without_the_constructor_equal_constructed_ones(tmp_path: Path) -> None:
    """The loader fills Region's fields directly (the frozen dataclass __init__ is the slow part of
    10^5 regions): each must be exactly what Region(...) builds, every field present (a field
    added to Region later must not be missing from them)."""
    system, _ = _check(_write_set(tmp_path, 400))
    root = system.root
    assert root is not None
    regions = [r for z in system.zones for r in z.regions] + root.taken
    assert len(regions) > 400
    names = [f.name for f in dataclasses.fields(Region)]
    for r in regions:
        made = Region(**{name: getattr(r, name) for name in names})
        assert vars(r) == vars(made) and r == made and hash(r) == hash(made)


def test_loading_leaves_the_garbage_collector_on(tmp_path: Path) -> None:
    """The collector is paused while a set is built and only then: later work (other sets of an
    --all run, the report) runs with it."""
    assert gc.isenabled()
    _check(_write_set(tmp_path, 40))
    assert gc.isenabled()
