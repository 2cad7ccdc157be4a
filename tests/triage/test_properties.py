"""Property tests: no text, however mangled, makes a reader or a diagnosis crash."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from triage_helpers import DEMO, FIX

from hvcheck.errors import InputError
from hvcheck.triage.context import Context
from hvcheck.triage.diagnose import diagnose
from hvcheck.triage.scan import scan_lines

CORPUS = [line for p in sorted(FIX.glob("*.log")) + sorted(DEMO.glob("*.log"))
          for line in p.read_text(encoding="utf-8", errors="replace").splitlines()[:60]]

fragments = st.sampled_from(CORPUS + ["{", "}", "(", ")", "MMIOAccess {", "PanicInfo {", "Code: <0f>",
                                      "RAX: ", "sbi_trap_error: hart0: ", "KVM internal error. Suberror: 3",
                                      "within hvisor's physical memory 0x", "Taking exception 4 [Data Abort]"])


def _check(lines: list[str]) -> None:
    try:
        result = scan_lines(lines)
    except InputError as exc:      # the contract's answer to junk: one line, exit 2
        assert "binary data" in exc.message
        return
    findings = diagnose([result], Context())
    assert findings     # always an answer, at least "unknown"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=120), max_size=30))
def test_arbitrary_text(lines: list[str]) -> None:
    _check(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(fragments, st.integers(0, 200), st.text(max_size=8)), max_size=40))
def test_spliced_real_lines(parts: list[tuple[str, int, str]]) -> None:
    # Real record lines cut at random points and glued to junk: truncated and interleaved records.
    _check([frag[:cut] + junk for frag, cut, junk in parts])


def test_shuffled_corpus_is_stable() -> None:
    rng = random.Random(1234)
    lines = list(CORPUS)
    for _ in range(5):
        rng.shuffle(lines)
        _check(lines)


def _signature(result) -> list[tuple]:
    return [(f.kind, f.count, sorted((k, a.value) for k, a in f.addresses.items()),
             [e.line for e in f.evidence], sorted(f.registers.items())) for f in result.faults]


def test_block_size_does_not_change_results() -> None:
    from hvcheck.triage.scan import scan

    for log in sorted(FIX.glob("*.log")) + sorted(DEMO.glob("*.log")):
        whole = scan(str(log))
        for block in (1, 7, 64, 333):
            small = scan(str(log), block=block)
            assert _signature(small) == _signature(whole), (log.name, block)
            assert small.stats.lines == whole.stats.lines and small.stats.hvisor_records == whole.stats.hvisor_records
