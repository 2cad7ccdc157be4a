"""The DTS reader and the DTB reader give the same facts for the same tree: every tree here is
compiled by the real `dtc`, then read both ways (issue 12)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvcheck.layout.loaders.devicetree import DeviceTreeInfo, read_devicetree
from tests.conftest import FIXTURES, require_tool
from tests.layout.loaders.devicetree.test_devicetree import FULL

REPO = FIXTURES / "hvisor" / "repo"


def facts_key(facts: DeviceTreeInfo) -> tuple[object, ...]:
    """Every fact the layout checks read, in a comparable form."""
    return (
        sorted((m.start, m.end) for m in facts.memory),
        sorted((r.start, r.end, r.no_map, r.memreserve, r.name) for r in facts.reserved),
        facts.mem_limit.number if facts.mem_limit else None,
        facts.bootargs,
        facts.model,
        [c.number for c in facts.cpus],
        sorted((d.name, d.kind, d.start, d.end) for d in facts.interrupt_controllers),
    )


def compile_dts(dtc: str, src: Path, out: Path) -> bool:
    return subprocess.run([dtc, "-q", "-I", "dts", "-O", "dtb", "-o", str(out), str(src)],
                          capture_output=True).returncode == 0


def test_full_example_same_facts_from_dts_and_dtb(tmp_path: Path) -> None:
    dtc = require_tool("dtc")
    src = tmp_path / "t.dts"
    src.write_text(FULL)
    dtb = tmp_path / "t.dtb"
    assert compile_dts(dtc, src, dtb)
    from_dts, from_dtb = read_devicetree(src), read_devicetree(dtb)
    assert facts_key(from_dts) == facts_key(from_dtb)
    assert from_dts.memory and from_dts.reserved and from_dts.interrupt_controllers and from_dts.cpus
    assert from_dtb.memory[0].source.detail == "/memory@80000000 reg"


def test_fixture_trees_agree_with_dtc(tmp_path: Path) -> None:
    """Every self-contained fixture DTS, compiled by dtc, gives the same facts from both readers."""
    dtc = require_tool("dtc")
    checked = 0
    for src in sorted(REPO.glob("platform/*/*/image/dts/*.dts")):
        dtb = tmp_path / (src.stem + ".dtb")
        if not compile_dts(dtc, src, dtb):
            continue  # needs includes that dtc cannot resolve without cpp
        assert facts_key(read_devicetree(src)) == facts_key(read_devicetree(dtb)), src
        checked += 1
    assert checked >= 8


# -- generated trees ---------------------------------------------------------------------------------

def _cells(value: int, n: int) -> str:
    return " ".join(f"{(value >> (32 * (n - 1 - i))) & 0xFFFFFFFF:#x}" for i in range(n))


ranges_st = st.lists(st.tuples(st.integers(0, 2**36).map(lambda a: a & ~0xFFF), st.integers(1, 2**30)),
                     min_size=1, max_size=3)


@st.composite
def trees(draw: st.DrawFn) -> str:
    ac, sc = draw(st.sampled_from([(1, 1), (2, 1), (2, 2)]))
    lines = ["/dts-v1/;"]
    for addr, size in draw(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 2**20)), max_size=2)):
        lines.append(f"/memreserve/ {addr:#x} {size:#x};")
    lines += ["/ {", f'\tmodel = "{draw(st.sampled_from(["virt", "rk3568 evb", "board,x"]))}";',
              f"\t#address-cells = <{ac}>;", f"\t#size-cells = <{sc}>;"]
    limit = (1 << (32 * ac)) - 1, (1 << (32 * sc)) - 1
    for i, tuples in enumerate(draw(st.lists(ranges_st, min_size=1, max_size=3))):
        reg = ", ".join(f"<{_cells(a & limit[0], ac)} {_cells(min(s, limit[1]), sc)}>" for a, s in tuples)
        status = draw(st.sampled_from(["", '\t\tstatus = "disabled";', '\t\tstatus = "okay";']))
        unit = f"@{i}{tuples[0][0] & limit[0]:x}" if i else ""
        lines += [f"\tmemory{unit} {{", '\t\tdevice_type = "memory";', f"\t\treg = {reg};", status, "\t};"]
    lines += ["\treserved-memory {", f"\t\t#address-cells = <{ac}>;", f"\t\t#size-cells = <{sc}>;", "\t\tranges;"]
    for j, (addr, size) in enumerate(draw(st.lists(st.tuples(st.integers(0, 2**32), st.integers(1, 2**24)),
                                                   max_size=3))):
        no_map = draw(st.booleans())
        lines += [f"\t\tresv{j}@{addr & limit[0]:x} {{", f"\t\t\treg = <{_cells(addr & limit[0], ac)} "
                  f"{_cells(min(size, limit[1]), sc)}>;", "\t\t\tno-map;" if no_map else "", "\t\t};"]
    lines += ["\t\tcma { size = <0x1000000>; };", "\t};"]
    ncpus = draw(st.integers(0, 4))
    lines += ["\tcpus {", "\t\t#address-cells = <1>;", "\t\t#size-cells = <0>;"]
    lines += [f'\t\tcpu@{n:x} {{ device_type = "cpu"; reg = <{n:#x}>; }};' for n in range(ncpus)]
    lines += ["\t};"]
    bus_base = draw(st.integers(0, 2**28)) & ~0xFFFF
    lines += ["\tsoc {", "\t\t#address-cells = <1>;", "\t\t#size-cells = <1>;",
              f"\t\tranges = <0x0 {_cells(bus_base, ac)} 0x10000000>;",
              "\t\tintc: interrupt-controller@1000 {", '\t\t\tcompatible = "arm,gic-400";',
              "\t\t\tinterrupt-controller;", "\t\t\t#interrupt-cells = <3>;",
              "\t\t\treg = <0x1000 0x1000>, <0x2000 0x2000>;", "\t\t};", "\t};"]
    mem = draw(st.sampled_from(["", " mem=512M", " mem=0x8000000"]))
    lines += ["\tchosen {", f'\t\tbootargs = "console=ttyS0{mem} root=/dev/vda";', "\t};", "};"]
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trees())
def test_generated_trees_same_facts_from_dts_and_dtb(tmp_path: Path, text: str) -> None:
    dtc = require_tool("dtc")
    src = tmp_path / "g.dts"
    src.write_text(text)
    dtb = tmp_path / "g.dtb"
    assert compile_dts(dtc, src, dtb), text
    from_dts, from_dtb = read_devicetree(src), read_devicetree(dtb)
    assert facts_key(from_dts) == facts_key(from_dtb), text
    assert from_dts.unknown == [] and from_dtb.unknown == []
    # dtc's own decompiled source reads back to the same facts too (a third spelling of the tree)
    back = tmp_path / "back.dts"
    subprocess.run([dtc, "-q", "-I", "dtb", "-O", "dts", "-o", str(back), str(dtb)], check=True)
    assert facts_key(read_devicetree(back)) == facts_key(from_dtb)
