"""Device-tree facts from DTS (own tolerant parser) and DTB (own FDT parser), cross-checked with dtc."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.errors import InputError
from hvcheck.layout.loaders.devicetree import read_devicetree
from tests.conftest import FIXTURES, require_tool

REPO = FIXTURES / "hvisor" / "repo"

FULL = """\
/dts-v1/;
/memreserve/ 0x8f000000 0x100000;

/ {
	#address-cells = <2>;
	#size-cells = <2>;

	memory@80000000 {
		device_type = "memory";
		reg = <0x0 0x80000000 0x0 0x10000000>, <0x1 0x00000000 0x0 0x20000000>;
	};
	memory@c0000000 {
		reg = <0x0 0xc0000000 0x0 0x1000000>;   /* reg before device_type */
		device_type = "memory";
	};
	memory@d0000000 {
		device_type = "memory";
		status = "disabled";
		reg = <0x0 0xd0000000 0x0 0x1000000>;
	};

	reserved-memory {
		#address-cells = <1>;
		#size-cells = <1>;
		ranges;
		hv: hvisor@80200000 {
			no-map;
			reg = <0x80200000 0x400000>;
		};
		shm@88000000 {
			reg = <0x88000000 0x100000>;
		};
		cma {
			size = <0x1000000>;   /* dynamically placed: not a fixed range */
		};
	};

	cpus {
		#address-cells = <1>;
		#size-cells = <0>;
		cpu@0 { device_type = "cpu"; reg = <0>; };
		cpu@100 { device_type = "cpu"; reg = <0x100>; };
	};

	soc@0 {
		#address-cells = <1>;
		#size-cells = <1>;
		ranges = <0x0 0x0 0x0 0x40000000>;
		gic: interrupt-controller@8000000 {
			compatible = "arm,gic-v3";
			interrupt-controller;
			reg = <0x8000000 0x10000>, <0x80a0000 0xf60000>;
		};
	};

	chosen {
		bootargs = "console=ttyAMA0 mem=384M root=/dev/vda";
	};
};
"""


def _write(tmp_path: Path, text: str, name: str = "t.dts") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _key(facts):
    return (
        sorted((m.start, m.end) for m in facts.memory),
        sorted((r.start, r.end, r.no_map, r.memreserve) for r in facts.reserved),
        facts.mem_limit.number if facts.mem_limit else None,
        facts.bootargs,
        [c.number for c in facts.cpus],
        sorted((d.start, d.end) for d in facts.interrupt_controllers),
    )


def test_dts_facts(tmp_path: Path) -> None:
    facts = read_devicetree(_write(tmp_path, FULL))
    assert [(m.start, m.end) for m in facts.memory] == [
        (0x80000000, 0x90000000), (0x100000000, 0x120000000), (0xC0000000, 0xC1000000)]
    assert facts.memory[0].source.line == _line_of(FULL, "reg = <0x0 0x80000000")
    assert sorted((r.start, r.end, r.no_map, r.memreserve) for r in facts.reserved) == [
        (0x80200000, 0x80600000, True, False),
        (0x88000000, 0x88100000, False, False),
        (0x8F000000, 0x8F100000, False, True),
    ]
    assert facts.mem_limit is not None and facts.mem_limit.number == 384 << 20
    assert facts.mem_limit.source.line == _line_of(FULL, "bootargs")
    assert [c.number for c in facts.cpus] == [0, 0x100]
    assert sorted((d.start, d.end) for d in facts.interrupt_controllers) == [
        (0x8000000, 0x8010000), (0x80A0000, 0x9000000)]
    assert facts.unknown == []


def test_missing_include_overlay_and_decimal_cells() -> None:
    facts = read_devicetree(REPO / "platform/loongarch64/dmw/image/dts/zone0.dts")
    assert [(m.start, m.end) for m in facts.memory] == [(0x200000, 0xF000000), (0xA0000000, 0xB0000000)]
    # the overlay &hv_reserved (label from the included .dtsi) widened the reservation to 80 MiB
    assert [(r.start, r.end, r.no_map) for r in facts.reserved if not r.memreserve] == [
        (0x90000000, 0x95000000, True)]
    assert [(r.start, r.end) for r in facts.reserved if r.memreserve] == [(0x0, 0x200000)]
    assert len(facts.unknown) == 1
    assert "dt-bindings/interrupt-controller/irq.h" in facts.unknown[0]


def test_unknown_macro_in_memory_reg_is_reported_not_guessed(tmp_path: Path) -> None:
    text = '#include "soc-memory.h"\n/dts-v1/;\n/ {\n #address-cells = <2>;\n #size-cells = <2>;\n' \
           ' memory@0 { device_type = "memory"; reg = <0x0 DRAM_BASE 0x0 0x1000>; };\n' \
           ' other { reg = <0x0 (0x1000 + 0x20) 0x0 0x10>; };\n};\n'
    facts = read_devicetree(_write(tmp_path, text))
    assert facts.memory == []
    assert any("DRAM_BASE" in u for u in facts.unknown)
    assert any("soc-memory.h" in u for u in facts.unknown)


def test_defines_and_expressions(tmp_path: Path) -> None:
    text = '/dts-v1/;\n#define RAM_BASE 0x80000000\n#define RAM_SIZE (256 * 1024 * 1024)\n' \
           '/ {\n #address-cells = <1>;\n #size-cells = <1>;\n' \
           ' memory { device_type = "memory"; reg = <RAM_BASE RAM_SIZE>, <(RAM_BASE + RAM_SIZE * 2) (1 << 20)>; };\n};\n'
    facts = read_devicetree(_write(tmp_path, text))
    assert [(m.start, m.end) for m in facts.memory] == [
        (0x80000000, 0x90000000), (0xA0000000, 0xA0100000)]


def test_overlay_with_undefined_label_that_touches_memory_is_unknown(tmp_path: Path) -> None:
    text = '/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>;\n' \
           ' memory { device_type = "memory"; reg = <0x0 0x1000>; }; };\n' \
           '&pinctrl { uart-pins { pins = "a"; }; };\n' \
           '&ddr_reserved { reg = <0x100 0x100>; };\n'
    facts = read_devicetree(_write(tmp_path, text))
    assert len(facts.unknown) == 1 and "&ddr_reserved" in facts.unknown[0] and ":5" in facts.unknown[0]


def test_preprocessed_line_markers_and_delete_node(tmp_path: Path) -> None:
    text = '# 1 "board.dts"\n# 1 "<built-in>" 1\n/dts-v1/;\n# 10 "board.dts" 2\n/ {\n' \
           ' #address-cells = <1>;\n #size-cells = <1>;\n' \
           ' memory@0 { device_type = "memory"; reg = <0x0 0x1000>; };\n' \
           ' memory@2000 { device_type = "memory"; reg = <0x2000 0x1000>; };\n' \
           ' /delete-node/ memory@2000;\n};\n'
    facts = read_devicetree(_write(tmp_path, text))
    assert [(m.start, m.end) for m in facts.memory] == [(0, 0x1000)]


@pytest.mark.parametrize("text, line, what", [
    ('/dts-v1/;\n/ {\n<<<<<<< HEAD\n memory { };\n=======\n>>>>>>> x\n};\n', 3, "merge-conflict marker"),
    ('/dts-v1/;\n/ {\n memory { reg = <0x0 0x1000>\n };\n};\n', 4, "expected"),
    ('/dts-v1/;\n/ {\n memory {\n', 3, "unterminated node"),
    ('/dts-v1/;\n/ {\n x = "abc;\n};\n', 3, "unterminated"),
    ('/dts-v1/;\n/ { /* never closed\n', 2, "unterminated /*"),
])
def test_bad_dts(tmp_path: Path, text: str, line: int, what: str) -> None:
    with pytest.raises(InputError) as exc:
        read_devicetree(_write(tmp_path, text))
    assert exc.value.line == line
    assert what in exc.value.message


def test_bad_dtb(tmp_path: Path) -> None:
    dtc = require_tool("dtc")
    src = _write(tmp_path, FULL)
    dtb = tmp_path / "t.dtb"
    subprocess.run([dtc, "-q", "-I", "dts", "-O", "dtb", "-o", str(dtb), str(src)], check=True)
    data = dtb.read_bytes()
    cut = tmp_path / "cut.dtb"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated DTB"):
        read_devicetree(cut)
    junk = tmp_path / "junk.dtb"
    junk.write_bytes(b"\x00\x01\x02\x03" * 20)
    with pytest.raises(InputError, match="not a DTB"):
        read_devicetree(junk)
    # corrupt the structure block: replace the first FDT_BEGIN_NODE token
    off_struct = int.from_bytes(data[8:12], "big")
    bad = bytearray(data)
    bad[off_struct:off_struct + 4] = (7).to_bytes(4, "big")
    broken = tmp_path / "broken.dtb"
    broken.write_bytes(bytes(bad))
    with pytest.raises(InputError, match="corrupt DTB"):
        read_devicetree(broken)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_dtb_reader_never_crashes(tmp_path_factory, blob: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "x.dtb"
    path.write_bytes(b"\xd0\x0d\xfe\xed" + blob)
    try:
        read_devicetree(path)
    except InputError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('/{}<>;=&"#@:,() \nabcx0123memoryreg-')), max_size=200))
def test_dts_reader_never_crashes(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "x.dts"
    path.write_text(text)
    try:
        read_devicetree(path)
    except InputError:
        pass


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**40), st.integers(1, 2**32)), min_size=1, max_size=4),
       st.sampled_from([(1, 1), (2, 1), (2, 2)]))
def test_reg_tuples_roundtrip(tmp_path_factory, tuples, cells) -> None:
    ac, sc = cells
    def enc(v: int, n: int) -> str:
        return " ".join(hex((v >> (32 * (n - 1 - i))) & 0xFFFFFFFF) for i in range(n))
    tuples = [(a % (1 << (32 * ac)), s % (1 << (32 * sc)) or 1) for a, s in tuples]
    reg = " ".join(f"{enc(a, ac)} {enc(s, sc)}" for a, s in tuples)
    text = f'/dts-v1/;\n/ {{ #address-cells = <{ac}>; #size-cells = <{sc}>;\n' \
           f' memory {{ device_type = "memory"; reg = <{reg}>; }}; }};\n'
    path = tmp_path_factory.mktemp("reg") / "r.dts"
    path.write_text(text)
    facts = read_devicetree(path)
    assert [(m.start, m.size) for m in facts.memory] == tuples
