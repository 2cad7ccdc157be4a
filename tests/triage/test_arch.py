"""Architecture by votes (arch.py): one architecture when the evidence agrees, unknown otherwise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hvcheck.triage.arch import UNKNOWN, ArchVotes

ARCHES = ["aarch64", "arm", "riscv64", "x86_64"]


def test_no_evidence_is_unknown() -> None:
    assert ArchVotes().decide() == (UNKNOWN, [])


def test_one_architecture_with_its_reasons() -> None:
    votes = ArchVotes()
    votes.add("arm", "'Internal error' header ends in ARM")
    votes.add("arm", "r0..r10 register names")
    votes.add("arm", "r0..r10 register names")          # a reason counts once
    assert votes.decide() == ("arm", ["'Internal error' header ends in ARM", "r0..r10 register names"])


def test_a_stray_token_does_not_overturn_strong_evidence() -> None:
    votes = ArchVotes()
    for why in ("ESR line", "x29 register", "arm64 exception frame", "pstate line"):
        votes.add("aarch64", why)
    votes.add("x86_64", "RIP line")
    assert votes.decide()[0] == "aarch64"


def test_disagreeing_evidence_is_unknown_and_says_why() -> None:
    votes = ArchVotes()
    votes.add("aarch64", "ESR line")
    votes.add("aarch64", "x29 register")
    votes.add("x86_64", "RIP line")
    arch, why = votes.decide()
    assert arch == UNKNOWN and why[0].startswith("conflicting evidence") and "RIP line" in why[0]


@given(st.dictionaries(st.sampled_from(ARCHES), st.integers(1, 8), min_size=1))
def test_decision_is_an_architecture_only_with_three_times_the_evidence(counts: dict[str, int]) -> None:
    votes = ArchVotes()
    for arch, n in counts.items():
        for i in range(n):
            votes.add(arch, f"reason {i}")
    arch, _ = votes.decide()
    ranked = sorted(counts.values(), reverse=True)
    if arch == UNKNOWN:
        assert len(ranked) > 1 and ranked[0] < 3 * ranked[1]
    else:
        assert all(counts[arch] >= 3 * n for a, n in counts.items() if a != arch)
