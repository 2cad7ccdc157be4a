"""Each layout rule with a failing and a passing layout."""

from __future__ import annotations

import copy
from pathlib import Path

from helpers import BASE, check, layout, rules_of
from rulecheck import clean, fires

from hvcheck.findings import Severity


def test_base_layout_is_clean(tmp_path: Path) -> None:
    assert check(tmp_path, BASE) == []


def test_m001_hypervisor_inside_zone_ram(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][0]["regions"][0] = {"kind": "ram", "start": "0x40000000", "size": "0x20000000"}
    doc["zones"][0]["devicetree"] = {"memory": [{"start": "0x40000000", "size": "0x20000000"}],
                                     "reserved": [{"start": "0x40400000", "end": "0x41000000", "no-map": True}]}
    found = check(tmp_path, doc)
    m001 = fires(found, "M001")[0]
    assert m001.data["overlap_start"] == 0x40400000 and m001.data["overlap_end"] == 0x41000000
    assert m001.locations[0].line is not None  # the region's line in the layout file
    clean(found, "M002")  # reserved no-map: the kernel stays off, the mapping is the hole


def test_m001_even_for_io_mapping_but_not_for_emulated(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][1]["regions"].append({"kind": "virtio", "start": "0x40800000", "size": "0x1000"})
    clean(check(tmp_path, doc), "M001")
    doc["zones"][1]["regions"].append({"kind": "io", "start": "0x40900000", "size": "0x1000"})
    fires(check(tmp_path, doc), "M001")


def test_m002_allocatable_vs_reserved_no_map_vs_reserved_only(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][0]["regions"][0] = {"kind": "ram", "start": "0x40000000", "size": "0x20000000"}
    doc["zones"][0]["devicetree"] = {"memory": [{"start": "0x40000000", "size": "0x20000000"}]}
    m002 = fires(check(tmp_path, doc), "M002")
    assert len(m002) == 1 and m002[0].data["allocatable"] == [[0x40400000, 0x41000000]]
    # Reservation sized for the image only: the rest is still allocatable, and the message says why.
    doc["zones"][0]["devicetree"]["reserved"] = [{"name": "hv", "start": "0x40400000", "size": "0x200000",
                                                  "no-map": True}]
    m002 = fires(check(tmp_path, doc), "M002")
    assert m002[0].data["allocatable"] == [[0x40600000, 0x41000000]]
    assert "cover only part" in m002[0].message
    # Reserved without no-map: not allocatable, but still mapped: still M002, different message.
    doc["zones"][0]["devicetree"]["reserved"] = [{"start": "0x40400000", "end": "0x41000000"}]
    m002 = fires(check(tmp_path, doc), "M002")
    assert len(m002) == 1 and "without no-map" in m002[0].message
    # mem= that stops below the hypervisor keeps the kernel off it.
    doc["zones"][0]["devicetree"] = {"memory": [{"start": "0x40000000", "size": "0x20000000"}],
                                     "bootargs": "console=ttyS0 mem=4M"}
    clean(check(tmp_path, doc), "M002")


def test_m002_without_device_tree_is_an_e003_note_not_a_pass(tmp_path: Path) -> None:
    doc = layout()
    clean(check(tmp_path, doc), "E003")
    doc["zones"][1]["regions"][0] = {"kind": "ram", "start": "0x40000000", "size": "0x20000000"}
    found = check(tmp_path, doc)
    notes = fires(found, "E003")
    clean(found, "M002")   # "could not check" is not an M002 verdict
    assert len(notes) == 1 and notes[0].sev is Severity.NOTE and notes[0].data["checked"] is False
    assert notes[0].data["checks"] == ["M002"] and notes[0].data["zone"] == doc["zones"][1]["name"]


def test_m003_dt_memory_not_mapped(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][0]["devicetree"] = {"memory": [{"start": "0x50000000", "size": "0x20000000"}]}
    m003 = fires(check(tmp_path, doc), "M003")
    assert len(m003) == 1 and (m003[0].data["start"], m003[0].data["end"]) == (0x60000000, 0x70000000)
    doc["zones"][0]["devicetree"]["reserved"] = [{"start": "0x60000000", "size": "0x10000000", "no-map": True}]
    clean(check(tmp_path, doc), "M003")


def test_m003_respects_guest_addresses(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][0]["regions"][0]["guest"] = "0x0"
    fires(check(tmp_path, doc), "M003")  # DT says 0x50000000, the map starts at guest 0
    doc["zones"][0]["devicetree"] = {"memory": [{"start": "0x0", "size": "0x10000000"}]}
    clean(check(tmp_path, doc), "M003")


def test_m004_between_non_root_zones(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"].append({"name": "z2", "regions": [{"kind": "ram", "start": "0x88000000", "size": "0x10000000"}]})
    found = fires(check(tmp_path, doc), "M004")
    assert len(found) == 1 and found[0].data["zones"] == ["z1", "z2"]
    doc["zones"][2]["regions"][0]["kind"] = "shared"
    doc["zones"][1]["regions"].append({"kind": "shared", "start": "0x90000000", "size": "0x1000"})
    clean(check(tmp_path, doc), "M004")


def test_m004_root_loader_pattern(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][0]["regions"].append({"kind": "ram", "start": "0x80000000", "size": "0x10000000"})
    doc["zones"][0]["devicetree"]["memory"].append({"start": "0x80000000", "size": "0x10000000"})
    found = fires(check(tmp_path, doc), "M004")
    assert len(found) == 1 and found[0].sev is Severity.ERROR
    doc["zones"][0]["devicetree"]["reserved"] = [{"start": "0x80000000", "size": "0x10000000", "no-map": True}]
    clean(check(tmp_path, doc), "M004")
    del doc["zones"][0]["devicetree"]
    found = fires(check(tmp_path, doc), "M004")
    assert len(found) == 1 and found[0].sev is Severity.WARNING


def test_m005_physical_and_guest_overlap(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][1]["regions"].append({"kind": "ram", "start": "0x8f000000", "size": "0x2000000"})
    found = fires(check(tmp_path, doc), "M005")
    assert {f.data["space"] for f in found} == {"physical", "guest-physical"}
    doc["zones"][1]["regions"][1] = {"kind": "ram", "start": "0x90000000", "size": "0x1000000", "guest": "0x80000000"}
    found = fires(check(tmp_path, doc), "M005")
    assert [f.data["space"] for f in found] == ["guest-physical"]
    doc["zones"][1]["regions"][1]["guest"] = "0x90000000"
    clean(check(tmp_path, doc), "M005")


def test_m006_ram_over_device(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][1]["regions"].append({"kind": "ram", "start": "0x08000000", "size": "0x1000"})
    found = fires(check(tmp_path, doc), "M006")
    assert len(found) == 1 and found[0].data["device"] == "gicd"
    doc["zones"][1]["regions"][1]["kind"] = "io"  # passthrough of the device itself is not RAM
    clean(check(tmp_path, doc), "M006")


def test_m007_emulated_over_passthrough(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][1]["regions"] += [{"kind": "io", "start": "0x0a000000", "size": "0x4000"},
                                   {"kind": "virtio", "start": "0x0a003000", "size": "0x1000"}]
    found = fires(check(tmp_path, doc), "M007")
    assert len(found) == 1 and found[0].data["overlap_start"] == 0x0A003000
    doc["zones"][1]["regions"][2]["start"] = "0x0a004000"
    clean(check(tmp_path, doc), "M007")


def test_m008_load_addresses(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][1]["images"] = [{"kind": "kernel", "address": "0x80000000", "size": "0x2000000"},
                                 {"kind": "dtb", "address": "0x88000000"}]
    clean(check(tmp_path, doc), "M008")
    doc["zones"][1]["images"][1]["address"] = "0x50000000"  # inside root's RAM, outside its own
    found = fires(check(tmp_path, doc), "M008")
    assert len(found) == 1 and "not in the zone's RAM" in found[0].message and "zone root" in found[0].message
    doc["zones"][1]["images"][1]["address"] = "0x81000000"  # inside the kernel image
    found = fires(check(tmp_path, doc), "M008")
    assert len(found) == 1 and "overlaps the dtb image" in found[0].message


def test_m009_alignment(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][1]["regions"][0]["size"] = "0x10000800"
    found = fires(check(tmp_path, doc), "M009")
    assert len(found) == 1 and "size" in found[0].message
    doc = layout()
    doc["hypervisor"]["base_alignment"] = "2M"
    clean(check(tmp_path, doc), "M009")
    doc["hypervisor"]["start"] = "0x40500000"
    fires(check(tmp_path, doc), "M009")


def test_m010_cpus(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][1]["cpus"] = [1, 2]
    found = fires(check(tmp_path, doc), "M010")
    assert len(found) == 1 and found[0].data["cpu"] == 1
    doc["zones"][1]["cpus"] = [2, 4]
    found = fires(check(tmp_path, doc), "M010")
    assert len(found) == 1 and found[0].data["board_cpus"] == 4
    doc["zones"][1]["cpus"] = [3]  # the board's last CPU, owned by one zone only
    clean(check(tmp_path, doc), "M010")


def test_m011_irqs(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][1]["irqs"] = [32, 33]
    found = fires(check(tmp_path, doc), "M011")
    assert len(found) == 1 and found[0].sev is Severity.WARNING and found[0].data["irq"] == 32
    doc["zones"][1]["irqs"] = [31, 33, 34]  # neighbours of root's 32, none shared
    clean(check(tmp_path, doc), "M011")


def test_m012_outside_board_memory(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][1]["regions"][0]["size"] = "0x40000000"  # ends exactly at the board's memory end
    clean(check(tmp_path, doc), "M012")
    doc["zones"][1]["regions"][0]["size"] = "0x50000000"
    found = fires(check(tmp_path, doc), "M012")
    assert len(found) == 1 and found[0].data["outside"] == [[0xC0000000, 0xD0000000]]
    del doc["board"]["memory"]
    found = check(tmp_path, doc)
    clean(found, "M012")
    notes = fires(found, "E003")
    assert len(notes) == 1 and notes[0].sev is Severity.NOTE and notes[0].data["checks"] == ["M012"]


def test_m013_headroom(tmp_path: Path) -> None:
    doc = layout()
    doc["zones"][0]["regions"][0]["start"] = "0x41400000"  # 4 MiB after the hypervisor's end
    doc["zones"][0]["regions"][0]["size"] = "0xec00000"
    doc["zones"][0]["devicetree"] = {"memory": [{"start": "0x41400000", "size": "0xec00000"}]}
    found = fires(check(tmp_path, doc), "M013")
    assert len(found) == 1 and found[0].data["headroom"] == 0x400000
    assert check(tmp_path, doc, headroom=4 << 20) == []
    clean(check(tmp_path, doc, headroom=4 << 20), "M013")  # exactly the required headroom is enough


def test_m014_estimate_and_dependence(tmp_path: Path) -> None:
    clean(check(tmp_path, BASE), "M014")  # the hypervisor's extent is given, nothing estimated
    doc = layout()
    doc["hypervisor"] = {"start": "0x40400000", "estimate": {"image": ["2M", "8M"], "extended": "0x800000"}}
    found = fires(check(tmp_path, doc), "M014")
    assert len(found) == 1 and found[0].data["dependent_rules"] == []
    # Zone RAM starting 12 MiB after base: overlaps only if the image is larger than 4 MiB.
    doc["zones"][0]["regions"][0] = {"kind": "ram", "start": "0x41000000", "size": "0x10000000"}
    doc["zones"][0]["devicetree"] = {"memory": [{"start": "0x41000000", "size": "0x10000000"}]}
    found = check(tmp_path, doc)
    m014 = fires(found, "M014")[0]
    assert {"M001", "M002"} <= set(m014.data["dependent_rules"])
    assert "estimated" in fires(found, "M001")[0].message


def test_m014_without_any_hypervisor(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    del doc["hypervisor"]
    found = check(tmp_path, doc)
    assert rules_of(found) == ["E003"] and found[0].data["checked"] is False
    assert found[0].data["missing"] == "hypervisor"
    clean(found, "M014")


def test_m002_note_when_device_tree_memory_facts_are_unresolved() -> None:
    from hvcheck.findings import Location
    from hvcheck.layout.model import Board, DeviceTreeFacts, Region, RegionKind, System, Zone
    from hvcheck.layout.rules import run_rules

    def system(unknown: list[str]) -> System:
        zone = Zone("root", 0, True, Location("b.rs", 1))
        zone.add_region(Region(RegionKind.RAM, 0x80000000, 0x1000000, Location("b.rs", 2)))
        zone.devicetree = DeviceTreeFacts("zone0.dts", unknown=unknown)
        return System("s", Location("b.rs"), None, Board("b"), [zone])

    header = ["#include dt-bindings/irq.h (included at zone0.dts:3) not found: facts defined only there are unknown"]
    assert [f for f in run_rules(system(header)) if f.data.get("checked") == "partially"] == []
    dtsi = ["#include board-mem.dtsi (included at zone0.dts:4) not found: facts defined only there are unknown"]
    macro = ["memory node /memory@80000000 `reg` at zone0.dts:9: uses MEM_BASE (macro from a missing header)"]
    for unknown in (dtsi, macro):
        found = run_rules(system(unknown))
        clean(found, "M002")
        notes = [f for f in fires(found, "E003") if f.data.get("checked") == "partially"]
        assert len(notes) == 1 and notes[0].sev is Severity.NOTE and notes[0].data["unknown"] == unknown


def test_verdicts_that_hold_for_part_of_the_estimate_say_so_themselves(tmp_path: Path) -> None:
    """depends_on_estimate: in the finding's own data and words, with the bound that makes it true."""
    doc = layout()
    doc["hypervisor"] = {"start": "0x40400000", "estimate": {"image": ["2M", "8M"], "extended": "0x800000"}}
    # zone RAM 12 MiB after base: overlapped only by an image larger than 4 MiB
    doc["zones"][0]["regions"][0] = {"kind": "ram", "start": "0x41000000", "size": "0x10000000"}
    doc["zones"][0]["devicetree"] = {"memory": [{"start": "0x41000000", "size": "0x10000000"}]}
    found = check(tmp_path, doc)
    m001 = fires(found, "M001")[0]
    bound = m001.data["depends_on_estimate"]
    assert bound["hv_end_above"] == 0x41000000 and bound["image_size_at_least"] == (4 << 20) + 1
    assert "holds only if hypervisor really ends above 0x41000000 (an image larger than 4 MiB)" in m001.message
    # a region the smallest image already reaches does not depend on the estimate: no field
    doc["zones"][0]["regions"][0] = {"kind": "ram", "start": "0x40000000", "size": "0x20000000"}
    doc["zones"][0]["devicetree"] = {"memory": [{"start": "0x40000000", "size": "0x20000000"}]}
    found = check(tmp_path, doc)
    m001 = fires(found, "M001")[0]
    assert "depends_on_estimate" not in m001.data and "holds only if" not in m001.message
    m002 = fires(found, "M002")[0]
    assert "depends_on_estimate" not in m002.data


def test_estimate_dependence_names_the_cpu_count_when_the_count_is_estimated() -> None:
    from hvcheck.findings import Location
    from hvcheck.layout.model import Board, Estimate, Hypervisor, Region, RegionKind, System, Zone
    from hvcheck.layout.rules import run_rules

    # end = 0x40400000 + image [2, 8] MiB + cpus [2, 8] x 1 MiB + 16 MiB pool
    fixed = 0x40400000 + (16 << 20)
    est = Estimate("f", fixed + (2 << 20) + (2 << 20), fixed + (8 << 20) + (8 << 20), "assumed",
                   image_size=(2 << 20, 8 << 20), cpus=(2, 8), per_cpu_size=1 << 20, fixed=fixed,
                   cpus_source="src/main.rs:204")
    hv = Hypervisor("hvisor", 0x40400000, est.end_max, Location("linker.ld", 2), Location("consts.rs", 6),
                    estimate=est)
    zone = Zone("root", 0, True, Location("board.rs", 1))
    boundary = fixed + (8 << 20) + (5 << 20)      # needs an 8 MiB image with at least 6 CPUs
    zone.add_region(Region(RegionKind.RAM, boundary, 0x1000000, Location("board.rs", 9)))
    found = run_rules(System("s", Location("board.rs"), hv, Board("b"), [zone]))
    bound = fires(found, "M001")[0].data["depends_on_estimate"]
    assert bound["cpus_at_least"] == 6 and bound["cpus_source"] == "src/main.rs:204"
    assert "at least 6 CPUs" in fires(found, "M001")[0].message
    zone.regions[0] = Region(RegionKind.RAM, est.end_max, 0x1000000, Location("board.rs", 9), owner="root")
    clean(run_rules(System("s", Location("board.rs"), hv, Board("b"), [zone])), "M001")
