"""board.rs: tree-sitter-rust + the constant evaluator, on every syntax variant of DESIGN.md §4."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.errors import InputError
from hvcheck.layout.loaders.boardrs import Namespace, cfg_evaluator, read_rust
from tests.conftest import FIXTURES

VARIANTS = FIXTURES / "hvisor/repo/platform/riscv64/variants/board.rs"
MEM = {"MEM_TYPE_RAM": 0, "MEM_TYPE_IO": 1, "MEM_TYPE_VIRTIO": 2}


def _ns(path: Path, features: set[str] | None = None) -> tuple[Namespace, object]:
    f = read_rust(path, cfg_evaluator(features or set(), "riscv64"))
    return Namespace([f], MEM), f


def _line(path: Path, needle: str) -> int:
    return next(i for i, t in enumerate(path.read_text().splitlines(), 1) if needle in t)


def test_every_variant_parses_to_the_right_regions() -> None:
    ns, f = _ns(VARIANTS, {"plic"})
    regions = ns.regions(f.consts["ROOT_ZONE_MEMORY_REGIONS"])
    got = [(r.mem_type_name, r.physical_start, r.virtual_start, r.size, r.label, r.via_const) for r in regions]
    assert got == [
        ("MEM_TYPE_RAM", 0x88000000, 0x88000000, 0x10000000, "ram low", None),             # one-line, 0x80000 * 0x200
        ("MEM_TYPE_RAM", 0xA0000000, 0xA0000000, 0x60000000, "ram high", "ROOT_ZONE_HIGH_RAM"),  # named const, a - b
        ("MEM_TYPE_IO", 0x10000000, 0x10000000, 0x1000, "serial", None),                  # label before, upper hex
        ("MEM_TYPE_VIRTIO", 0x10001000, 0x10001000, 4096, "virtio-blk (emulated)", None),  # decimal size
        ("MEM_TYPE_RAM_NOT_ALLOC", 0x98000000, 0x98000000, 0x1000000, "firmware tables (decimal)", None),
        ("MEM_TYPE_ROM", 0x20000000, 0x20000000, 0x100000, "boot flash", "ROOT_ZONE_FLASH"),  # cfg(feature = "plic")
        ("MEM_TYPE_IO", 0x30000000, 0x30000000, 0x10000000, "pci ecam (no trailing comma)", None),
    ]
    # the two commented-out entries (// and /* */) are not regions
    assert len(regions) == 7
    assert regions[0].one_line and not regions[2].one_line
    assert regions[0].line == _line(VARIANTS, "size: 0x80000 * 0x200")
    assert regions[1].line == _line(VARIANTS, "const ROOT_ZONE_HIGH_RAM") + 0  # the literal's line
    # byte spans let `fix` rewrite one value in place
    text = VARIANTS.read_bytes()
    s, e = regions[1].field_spans["size"]
    assert text[s:e] == b"0x1_0000_0000 - 0xA000_0000"
    s, e = regions[0].literal_span
    assert text[s:e].startswith(b"HvConfigMemoryRegion {") and text[s:e].endswith(b"}")


def test_cfg_selects_the_other_definition() -> None:
    ns, f = _ns(VARIANTS, set())
    flash = [r for r in ns.regions(f.consts["ROOT_ZONE_MEMORY_REGIONS"]) if r.via_const == "ROOT_ZONE_FLASH"]
    assert [(r.physical_start, r.size) for r in flash] == [(0x22000000, 0x200000)]


def test_irqs_bitmap_and_plain_array() -> None:
    ns, f = _ns(VARIANTS, {"plic"})
    assert [n for n, _ in ns.irqs(f.consts["ROOT_ZONE_IRQS_BITMAP"])] == [1, 2, 10, 0x21]
    dmw = FIXTURES / "hvisor/repo/platform/loongarch64/dmw/board.rs"
    ns2, f2 = _ns(dmw)
    assert [n for n, _ in ns2.irqs(f2.consts["ROOT_ZONE_IRQS"])] == [0x13, 0x14, 0x15]


def test_physmem_list_is_start_end() -> None:
    ns, f = _ns(VARIANTS, {"plic"})
    items = [v for _, v in ns.items(f.consts["BOARD_PHYSMEM_LIST"])]
    assert [(a, b, t.name) for a, b, t in items] == [
        (0x0, 0x20000000, "MemoryType::Device"), (0x20000000, 0x24000000, "MemoryType::Normal"),
        (0x24000000, 0x40000000, "MemoryType::Device"), (0x80000000, 0x100000000, "MemoryType::Normal")]


@pytest.mark.parametrize("expr, value", [
    ("0x8_0000_0000 - 0x500_0000", 0x8_0000_0000 - 0x500_0000),
    ("0x80000 * 2", 0x100000),
    ("(1 << 0) | (1 << 3)", 9),
    ("0xFFFF_0000u64 as usize", 0xFFFF0000),
    ("OTHER + 0x10", 0x1010),
    ("64 * 1024 * 1024", 64 << 20),
    ("1_000", 1000),
    ("0o17 + 0b101", 20),
    ("!0u8 & 0xff", 0xff),
])
def test_const_expressions(tmp_path: Path, expr: str, value: int) -> None:
    p = tmp_path / "b.rs"
    p.write_text(f"const OTHER: usize = 0x1000;\npub const X: u64 = {expr};\n")
    ns, f = _ns(p)
    assert ns.int_const("X")[0] == value


@settings(max_examples=80, deadline=None)
@given(st.recursive(st.integers(0, 2**40).map(lambda v: (hex(v), v)),
                    lambda inner: st.tuples(inner, st.sampled_from(["+", "*", "|", "&"]), inner).map(
                        lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})",
                                   eval(f"{t[0][1]} {t[1]} {t[2][1]}"))), max_leaves=8))
def test_evaluator_matches_python(tmp_path_factory, pair) -> None:
    text, value = pair
    p = tmp_path_factory.mktemp("rs") / "b.rs"
    p.write_text(f"pub const X: u128 = {text};\n")
    ns, _ = _ns(p)
    assert ns.int_const("X")[0] == value


@pytest.mark.parametrize("body, line, what", [
    ("pub const R: &[HvConfigMemoryRegion] = &[\n    mem_region!(0, 0x1000, 0x1000),\n];\n", 2, "macro invocation"),
    ("pub const R: &[HvConfigMemoryRegion] = &[\n    HvConfigMemoryRegion {\n        mem_type: MEM_TYPE_RAM,\n"
     "        physical_start: BASE,\n        virtual_start: 0,\n        size: 0x1000,\n    },\n];\n", 4,
     "unknown constant `BASE`"),
    ("pub const R: &[HvConfigMemoryRegion] = &[\n    HvConfigMemoryRegion {\n        mem_type: MEM_TYPE_RAM,\n"
     "        physical_start: 0x1000\n        virtual_start: 0,\n        size: 0x1000,\n    },\n];\n", 5,
     "syntax error"),
    ("pub const R: &[HvConfigMemoryRegion] = &[\n    HvConfigMemoryRegion {\n        mem_type: MEM_TYPE_RAM,\n"
     "        physical_start: 0x1000,\n        size: 0x1000,\n    },\n];\n", 2, "without virtual_start"),
    ("pub const R: &[HvConfigMemoryRegion] = &[\n    HvConfigMemoryRegion {\n        mem_type: MEM_TYPE_RAM,\n"
     "        physical_start: 0x1000 / 0,\n        virtual_start: 0,\n        size: 0x1000,\n    },\n];\n", 4,
     "division by zero"),
    ("pub const R: &[HvConfigMemoryRegion] = &[\n    HvConfigMemoryRegion {\n        mem_type: MEM_TYPE_RAM,\n"
     "        physical_start: base(),\n        virtual_start: 0,\n        size: 0x1000,\n    },\n];\n", 4,
     "not an integer"),
    ("<<<<<<< HEAD\npub const R: &[HvConfigMemoryRegion] = &[];\n=======\n>>>>>>> b\n", 1, "merge-conflict"),
])
def test_unknown_constructs_are_errors_with_file_and_line(tmp_path: Path, body: str, line: int, what: str) -> None:
    p = tmp_path / "board.rs"
    p.write_text(body)
    with pytest.raises(InputError) as exc:
        ns, f = _ns(p)
        ns.regions(ns.lookup("R"))
    assert exc.value.path == str(p)
    assert exc.value.line == line
    assert what in exc.value.message


def test_syntax_error_elsewhere_does_not_hide_the_regions(tmp_path: Path) -> None:
    """A broken const the layout never reads (like upstream nuc14mnk's half-merged ROOT_PCI_DEVS)."""
    p = tmp_path / "board.rs"
    p.write_text("pub const R: &[HvConfigMemoryRegion] = &[\n    HvConfigMemoryRegion { mem_type: MEM_TYPE_RAM, "
                 "physical_start: 0x1000, virtual_start: 0x1000, size: 0x1000 },\n];\n"
                 "pub const DEVS: [u8; 2] = [\n    dev!(1),\npub const DEVS: [u8; 2] = [\n    dev!(2),\n];\n")
    ns, f = _ns(p)
    assert [r.size for r in ns.regions(f.consts["R"])] == [0x1000]
    assert f.syntax_errors and f.syntax_errors[0][0] == 6


def test_binary_junk_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "board.rs"
    p.write_bytes(b"\x7fELF\x00\x01\x02garbage")
    with pytest.raises(InputError, match="NUL|UTF-8"):
        read_rust(p)
