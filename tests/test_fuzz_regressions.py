"""Inputs that once broke a reader (found by fuzz.runner) must now satisfy the invariant: exit 0/1/2,
exit 2 with one `error:` line, no internal error, within the time bound. Files live in
tests/fuzz_regressions/<target>/; large inputs are generated here instead of committed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from fuzz.runner import SPECIALS, Workspace, gzip_bomb, run_forked, run_one
from fuzz.targets import TARGETS, by_name

REGRESSIONS = ROOT / "tests" / "fuzz_regressions"
# fuzz.runner saves each input as <digest>-<seed name> and what happened as <that name>.txt.
FILES = sorted(p for p in REGRESSIONS.glob("*/*")
               if p.is_file() and not (p.suffix == ".txt" and p.with_suffix("").is_file()))


def _generated() -> list[tuple[str, str, bytes]]:
    stomp = (ROOT / "hvcheck/demo/examples/layout/seed001-stomp.yaml").read_bytes()
    cases = [
        # A 1 MB line: PyYAML's pure-Python scanner took minutes, rich's highlighter too.
        ("layout-yaml", "seed001-stomp.yaml", stomp[:300] + b"A" * 1_000_000 + stomp[300:]),
        ("layout-yaml", "seed001-stomp.yaml", stomp[:300] + b"[" * 5000 + stomp[300:]),
    ]
    patch = (ROOT / "hvcheck/demo/examples/backport/backport.patch").read_bytes()
    lines = patch.split(b"\n")
    case_at = next(i for i, ln in enumerate(lines) if ln.startswith(b"+\tcase "))
    # A megabyte of spaces after `case KV`: the case-label pattern backtracked quadratically.
    lines[case_at] = b"+\tcase KV" + b" " * 1_000_000
    cases.append(("patch", "backport.patch", b"\n".join(lines)))
    # A 10,000-digit BASE_ADDRESS: int() refused it with a ValueError nobody caught.
    ld_rel = "tests/fixtures/hvisor/repo/platform/aarch64/clean/linker.ld"
    ld = (ROOT / ld_rel).read_bytes()
    cases.append(("linker-ld", ld_rel, re.sub(rb"0x[0-9a-fA-F]+", b"9" * 10_000, ld, count=1)))
    # Megabyte lines in an strace log: the line patterns backtracked quadratically.
    st_rel = "tests/fixtures/x86/kvm/strace-y.txt"
    st = (ROOT / st_rel).read_bytes().split(b"\n")
    st.insert(len(st) // 2, st[len(st) // 2][:40] + b" " * 1_000_000 + b"<unfinished")
    cases.append(("ioctl-trace", st_rel, b"\n".join(st)))
    # A 64 KiB run of non-spaces in a QEMU -d int trace: `(\S+): unimplemented` went quadratic.
    qemu_rel = "hvcheck/demo/examples/triage/seed002-qemu-int.log"
    qemu = (ROOT / qemu_rel).read_bytes()
    cases.append(("triage-log", qemu_rel, qemu + b"x" * 65_000 + b"\n"))
    # A 64 KiB run of non-spaces inside an open oops record: `(\S+)\[...\]: unhandled signal` went quadratic.
    oops_rel = "tests/fixtures/triage/riscv-linux-illegal.log"
    oops = (ROOT / oops_rel).read_bytes().split(b"\n")
    cases.append(("triage-log", oops_rel, b"\n".join(oops[:7] + [b"statu" + b"A" * 65_000] + oops[7:])))
    # JSON integers of thousands of digits: json.loads calls int(), which refuses them.
    layout_rel = "tests/fixtures/layout/seed001-stomp.json"
    cases.append(("layout-json", layout_rel, (ROOT / layout_rel).read_bytes().replace(b'"name"', b'"x": ' + b"9" * 5000 + b', "name"', 1)))
    big = b"9" * 5000
    cases.append(("cpuid-dump", "tests/fixtures/x86/guest-spr-602e7.txt",
                  b'[{"leaf": ' + big + b', "subleaf": 0, "eax": 1, "ebx": 0, "ecx": 0, "edx": 0}]'))
    # A `CPU <5000 digits>:` header in a `cpuid -r` dump and a 4,301-digit kernel release in a KVM
    # probe: int() refused both (the 20-minute campaign of session 4 found them).
    raw_rel = "hvcheck/demo/examples/x86/guest-cpuid-202e7.txt"
    raw = (ROOT / raw_rel).read_bytes()
    cases.append(("cpuid-dump", raw_rel, re.sub(rb"CPU \d+:", b"CPU " + big + b":", raw, count=1)))
    probe_rel = "hvcheck/demo/examples/kvm/seed000-uos-5.10-probe.json"
    probe = (ROOT / probe_rel).read_bytes()
    cases.append(("kvm-probe", probe_rel, probe.replace(b'"kernel": "5.10.0', b'"kernel": "5.10.1' + b"0" * 4300, 1)))
    # "Billion laughs": 9 levels of 9 aliases in 400 bytes took 60 s and 3 GB to expand.
    laughs = [b'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    laughs += [b"l%d: &l%d [" % (i, i) + b",".join([b"*l%d" % (i - 1)] * 9) + b"]" for i in range(1, 9)]
    cases.append(("layout-yaml", "seed001-stomp.yaml", stomp.rstrip(b"\n") + b"\n" + b"\n".join(laughs) + b"\n"))
    # A gzip bomb: 64 MiB of one endless line and of short lines inflate from ~64 KiB; triage read
    # them all (1 GiB: 15-45 s) before the ratio check.
    cases.append(("triage-log", qemu_rel, gzip_bomb(b"A", 64 << 20)))
    cases.append(("triage-log", qemu_rel, gzip_bomb(b"hello world\n", 64 << 20)))
    return cases


def _check(target_name: str, seed_name: str, data: bytes, tmp_path: Path) -> None:
    target = by_name(target_name)
    seeds = [p for p in target.seed_files() if str(p.relative_to(ROOT)) == seed_name or p.name == seed_name]
    assert seeds, f"the fixture {seed_name} that {target_name} regression mutated is gone"
    ws = Workspace(target, seeds[0], tmp_path)
    ws.write(data)
    outcome = run_one(ws.argv(), per_input=20.0)
    assert outcome.ok, outcome.what


def _seed_of(path: Path) -> str:
    """The fixture a saved crash mutated: fuzz.runner's .txt names it ("seed file: ...")."""
    info = path.with_name(path.name + ".txt")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("seed file: "):
                return line.removeprefix("seed file: ")
    return path.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_regression_inputs(path: Path, tmp_path: Path) -> None:
    _check(path.parent.name, _seed_of(path), path.read_bytes(), tmp_path)


@pytest.mark.parametrize("case", range(len(_generated())))
def test_generated_regression_inputs(case: int, tmp_path: Path) -> None:
    target, seed, data = _generated()[case]
    _check(target, seed, data, tmp_path)


def test_runner_flags_a_hang_and_an_internal_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The judge itself must be able to fail."""
    import hvcheck.layout.rules as rules

    doc = tmp_path / "l.yaml"
    shutil.copy(ROOT / "hvcheck/demo/examples/layout/seed001-stomp.yaml", doc)

    def boom(*args: object, **kwargs: object) -> list[object]:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(rules, "run_rules", boom)
    outcome = run_one(["layout", str(doc)], per_input=5.0)
    assert not outcome.ok and "internal error" in outcome.what

    def slow(*args: object, **kwargs: object) -> list[object]:
        import time

        time.sleep(3)
        return []

    monkeypatch.setattr(rules, "run_rules", slow)
    outcome = run_one(["layout", str(doc)], per_input=0.5)
    assert not outcome.ok and "no answer" in outcome.what


@pytest.mark.parametrize("target", [t.name for t in TARGETS])
def test_special_files_in_place_of_every_input(target: str, tmp_path: Path) -> None:
    """A FIFO without a writer hung every reader; /dev/zero and /dev/urandom were read until memory
    ran out (3.7 GB for `hvcheck riscv /dev/zero`). In a board tree too: a FIFO zone0.dts hung."""
    t = by_name(target)
    seeds = t.seed_files()
    if not seeds:
        pytest.skip(f"{target}: no fixtures")
    ws = Workspace(t, seeds[0], tmp_path)
    for special in SPECIALS:
        ws.make_special(special)
        outcome = run_forked(ws.argv(), 10.0, 0, 48 << 10)
        assert outcome.ok, f"{special}: {outcome.what}"
        assert outcome.seconds < 5, f"{special}: {outcome.seconds:.1f} s"
