"""R010: comparing harness outcomes with the spec classes (synthetic runs, no emulator needed)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from rulecheck import clean, fires
from spec_oracle import classify_rv64gc

from hvcheck.findings import Severity
from hvcheck.riscv import conformance as conf

MUST_TRAP = {h for h in conf.COMPRESSED if classify_rv64gc(h) in ("reserved", "illegal")}
TRAP = (conf.SIGILL, 0)
FALL_THROUGH = (conf.SIGTRAP, 2)


def conforming(h: int) -> conf.Outcome:
    sig, delta = TRAP if h in MUST_TRAP else FALL_THROUGH
    return conf.Outcome(h, sig, 0, delta, 0, 0)


CONFORMING = {h: conforming(h) for h in conf.COMPRESSED}


def synthetic_run(overrides: dict[int, conf.Outcome] | None = None) -> conf.HarnessRun:
    """A spec-conforming emulator, with some halfwords' outcomes replaced."""
    outcomes = dict(CONFORMING)
    outcomes.update(overrides or {})
    return conf.HarnessRun("model-emulator", "model 1.0", "user", Path("rvc_user.elf"), outcomes)


def flipped(h: int) -> conf.Outcome:
    sig, delta = FALL_THROUGH if h in MUST_TRAP else TRAP
    return conf.Outcome(h, sig, 0, delta, 0, 0)


def test_conforming_emulator_gives_no_finding() -> None:
    findings, counts = conf.compare(synthetic_run(), classify=classify_rv64gc)
    assert findings == []
    clean(findings, "R010")
    assert counts == {
        "valid": {"halfwords": 46349, "trapped": 0, "executed": 46349, "diverging": 0},
        "hint": {"halfwords": 394, "trapped": 0, "executed": 394, "diverging": 0},
        "reserved": {"halfwords": 2408, "trapped": 2408, "executed": 0, "diverging": 0},
        "illegal": {"halfwords": 1, "trapped": 1, "executed": 0, "diverging": 0},
    }


def test_qemu_2_12_to_3_1_zero_halfword_bug_is_reported() -> None:
    """Seed 002: QEMU 2.12-3.1 ran 0x0000 (followed by a non-zero halfword) as mv fp, sp."""
    bug = conf.Outcome(0x0000, conf.SIGTRAP, 1, 2, 1 << 8, 0)
    findings, counts = conf.compare(synthetic_run({0x0000: bug}), classify=classify_rv64gc)
    assert len(findings) == 1
    f = fires(findings, "R010")[0]
    assert f.rule == "R010" and f.sev is Severity.ERROR
    assert f.data["spec_class"] == "illegal" and f.data["count"] == 1
    assert f.data["observed"] == "did not trap"
    assert "0x0000" in f.message and "x8 (s0/fp)" in f.message and "mv fp, sp" in f.message
    assert f.data["examples"] == ["0x0000 (c.unimp): executed and fell through to the next guard; changed x8 (s0/fp)"]
    assert counts["illegal"] == {"halfwords": 1, "trapped": 0, "executed": 1, "diverging": 1}
    table = conf.summary_table(synthetic_run({0x0000: bug}), counts, len(findings))
    assert "illegal" in table and "1 divergence class(es) reported as R010" in table


def test_valid_and_hint_trapping_are_errors_reserved_executing_is_a_warning() -> None:
    # c.addi4spn s0, sp, 4 (valid), c.nop 1 (HINT), c.lui a0, 0 (reserved)
    run = synthetic_run({h: flipped(h) for h in (0x0040, 0x0005, 0x6501)})
    findings, _ = conf.compare(run, classify=classify_rv64gc)
    by_class = {f.data["spec_class"]: f for f in findings}
    assert set(by_class) == {"valid", "hint", "reserved"}
    assert by_class["valid"].sev is Severity.ERROR and by_class["valid"].data["observed"] == "trapped as illegal"
    assert by_class["hint"].sev is Severity.ERROR and "U-2019 §16.7" in by_class["hint"].message
    assert by_class["reserved"].sev is Severity.WARNING
    assert by_class["reserved"].data["slot"] == "C.LUI"
    strict, _ = conf.compare(run, classify=classify_rv64gc, reserved_must_trap=True)
    assert {f.data["spec_class"]: f.sev for f in strict}["reserved"] is Severity.ERROR


def test_one_finding_per_divergence_class_with_counts_and_examples() -> None:
    # All 30+1 reserved C.LUI nzimm=0 code points execute (the capstone-style decoder bug) plus
    # the 2048 quadrant-0 funct3=100 ones (an emulator with Zcb, checked without --extensions).
    lui = [h for h in MUST_TRAP if conf.rvc_slot(h) == "C.LUI"]
    q0 = [h for h in MUST_TRAP if h & 0xE003 == 0x8000]
    run = synthetic_run({h: flipped(h) for h in lui + q0})
    findings, counts = conf.compare(run, classify=classify_rv64gc)
    assert sorted(f.data["count"] for f in findings) == [31, 2048]
    assert all(len(f.data["examples"]) == 8 for f in findings)
    assert counts["reserved"]["diverging"] == 31 + 2048


def test_extensions_are_passed_to_the_classifier() -> None:
    seen = set()

    def classify(h: int, xlen: int = 64, extensions: frozenset[str] = frozenset()) -> str:
        seen.add((xlen, extensions))
        return classify_rv64gc(h)

    conf.compare(synthetic_run(), classify=classify, extensions=["Zcb", "zcmop"])
    assert seen == {(64, frozenset({"zcb", "zcmop"}))}


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(conf.COMPRESSED), max_size=60))
def test_every_divergence_is_reported_exactly_once(flips: set[int]) -> None:
    findings, counts = conf.compare(synthetic_run({h: flipped(h) for h in flips}), classify=classify_rv64gc)
    assert sum(f.data["count"] for f in findings) == len(flips)
    assert sum(c["diverging"] for c in counts.values()) == len(flips)
    reported = {int(e.split(":")[0].split()[0], 16) for f in findings for e in f.data["examples"]}
    assert reported <= flips
    # one finding per (spec class, slot, direction)
    keys = [(f.data["spec_class"], f.data["slot"], f.data["observed"]) for f in findings]
    assert len(keys) == len(set(keys))


def test_slot_names_cover_the_whole_space() -> None:
    names = {conf.rvc_slot(h) for h in conf.COMPRESSED}
    assert "" not in names and "not compressed" not in names
    assert conf.rvc_slot(0x0000) == "all-zero halfword (c.unimp)"
    assert conf.rvc_slot(0x8082) == "C.JR" and conf.rvc_slot(0x9082) == "C.JALR"
    assert conf.rvc_slot(0x9002) == "C.EBREAK" and conf.rvc_slot(0x6101) == "C.ADDI16SP"
    assert conf.rvc_slot(0x9C41).startswith("MISC-ALU")
