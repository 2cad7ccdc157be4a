"""The code walker (hvcheck/riscv/walker.py): zeros after a call are decided by whether the
callee can return, never by the 4-byte boundary alone."""

from __future__ import annotations

from rulecheck import clean, fires

from hvcheck.riscv.check import check_path
from hvcheck.riscv.elf import load_image
from hvcheck.riscv.walker import Walker
from tests.conftest import FIXTURES

RV = FIXTURES / "riscv"


def _symbol(img, name: str) -> int:  # noqa: ANN001
    return next(s.addr for s in img.symbols if s.name == name)


def test_zeros_after_a_returning_call_are_reachable() -> None:
    report = check_path(str(RV / "after_call_returns.elf"))
    found = fires(report.findings, "R005")
    # helper returns with ret, wrapper through a tail call to helper, millicode with jr t0
    assert [f.data["addr"] for f in found] == [0x80000014, 0x80000016, 0x80000020, 0x80000022, 0x80000028]
    assert all(f.data["reached_from"] == 0x80000000 for f in found)
    assert "returns here: 0x80000032 <helper> has a reachable return at 0x80000034" in found[0].message
    assert "<wrapper>" in found[2].message and "<millicode>" in found[4].message


def test_zeros_after_a_call_that_never_returns_are_fill() -> None:
    report = check_path(str(RV / "after_call_noreturn.elf"))
    clean(report.findings, "R005")
    assert report.findings == []
    assert report.code.padding == [(0x8000001C, 0x80000020)] and report.code.undecided_padding == []


def test_returns_follows_tail_calls_and_stops_at_loops() -> None:
    img = load_image(RV / "after_call_noreturn.elf")
    walker = Walker(img)
    walker.walk()
    assert walker.returns(_symbol(img, "hang")).status == "never"
    assert walker.returns(_symbol(img, "die")).status == "never"  # only tail-calls hang
    check = walker.returns(_symbol(img, "check_or_hang"))
    assert check.status == "returns" and check.at == _symbol(img, "check_or_hang") + 2  # c.beqz, c.ret
    img2 = load_image(RV / "after_call_returns.elf")
    w2 = Walker(img2)
    w2.walk()
    wrapper = w2.returns(_symbol(img2, "wrapper"))
    assert wrapper.status == "returns" and "tail call" in wrapper.why


def test_walk_returns_the_trap_vector_sites_it_found() -> None:
    img = load_image(RV / "temp_vector_pk.elf")
    walker = Walker(img)
    sites = walker.walk()
    assert len(sites) == 5 and walker.walk() == []  # a second walk of the same roots finds nothing new


def test_start_marks_behave_like_the_dict_they_replace() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from hvcheck.riscv.model import CodeRegion
    from hvcheck.riscv.walker import StartMarks

    regions = [CodeRegion(0x1000, bytes(0x3000), ".text"), CodeRegion(0x9000, bytes(0x100), ".init")]
    in_code = st.one_of(st.integers(0x1000, 0x3FFF), st.integers(0x9000, 0x90FF))

    @given(st.dictionaries(in_code, st.sampled_from([2, 4, 6, 8]), max_size=40),
           st.lists(st.integers(0, 0xA000), max_size=20))
    def same(model: dict[int, int], probes: list[int]) -> None:
        marks = StartMarks(regions)
        for addr, n in model.items():
            marks[addr] = n
        assert len(marks) == len(model)
        assert marks.items() == sorted(model.items())
        for addr in probes + list(model):
            assert marks.get(addr) == model.get(addr) and (addr in marks) == (addr in model)
            below = [a for a in model if a <= addr]
            assert marks.below(addr) == (max(below) if below else None)

    same()
    outside = StartMarks(regions)
    for addr in (0x0, 0x4000, 0x8FFF, 0x9100):
        try:
            outside[addr] = 2
        except KeyError:
            continue
        raise AssertionError(f"0x{addr:x} is in no region but was stored")
