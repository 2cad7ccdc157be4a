"""CPUID dump readers (cpuid -r, JSON, /dev/cpu) and checks X003-X006 on dumps we write."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, require_tool, run_hvcheck
from rulecheck import clean, fires

from hvcheck.errors import InputError
from hvcheck.x86.cpuid_model import CpuidDump, cpuid_findings, read_cpuid_dump, read_self_cpuid

X86 = FIXTURES / "x86"
GUEST_BAD = ROOT / "hvcheck" / "demo" / "examples" / "x86" / "guest-cpuid-202e7.txt"
GUEST_GOOD = X86 / "guest-spr-602e7.txt"


def rules(findings) -> list[str]:
    return sorted(f.rule for f in findings)


def test_raw_reader_two_cpus_and_line_numbers() -> None:
    d = read_cpuid_dump(str(GUEST_BAD))
    assert d.fmt == "cpuid -r" and sorted(d.cpus) == [0, 1]
    assert d.vendor() == "GenuineIntel" and d.xcr0_mask() == 0x202E7
    assert d.location(0xD, 0).line == 15
    assert d.location(0xD, 0, cpu=1).line > 30


def test_debian_cpuid_tool_reads_our_dumps_the_same_way(tmp_path: Path) -> None:
    cpuid = require_tool("cpuid")
    for path, mask in ((GUEST_BAD, 0x202E7), (GUEST_GOOD, 0x602E7)):
        out = subprocess.run([cpuid, "-f", str(path)], capture_output=True, text=True, check=True).stdout
        assert f"XCR0 valid bit field mask               = 0x{mask:016x}" in out
        assert read_cpuid_dump(str(path)).xcr0_mask() == mask


def test_incident_dump_gives_x003_and_x004() -> None:
    found = cpuid_findings(read_cpuid_dump(str(GUEST_BAD)))
    assert rules(found) == ["X003", "X004"]
    x003 = fires(found, "X003")[0]
    assert x003.data["violations"] == ["amx-pair"] and x003.data["nearest_valid"] == [0x602E7, 0x2E7]
    assert x003.locations[0].line == 15


def test_consistent_amx_guest_is_clean() -> None:
    found = cpuid_findings(read_cpuid_dump(str(GUEST_GOOD)))
    assert found == []
    clean(found, "X003")  # XCR0 mask 0x602e7: the AMX pair is complete
    clean(found, "X004")  # AMX-TILE, XFD and XSAVE flags agree with the components


def test_no_amx_tile_flag_but_xtilecfg_component() -> None:
    found = cpuid_findings(read_cpuid_dump(str(X86 / "guest-spr-no-amx.txt")))
    assert rules(found) == ["X003", "X004"]
    assert "AMX-TILE is clear" in fires(found, "X004")[0].message


def _edit(src: Path, dst: Path, old: str, new: str) -> Path:
    text = src.read_text()
    assert old in text
    dst.write_text(text.replace(old, new))
    return dst


def test_x004_xfd_missing_with_xtiledata(tmp_path: Path) -> None:
    # clear XFD (CPUID.(0DH,1):EAX[4]) in the consistent AMX guest
    p = _edit(GUEST_GOOD, tmp_path / "g.txt", "0x0000000d 0x01: eax=0x0000001f", "0x0000000d 0x01: eax=0x0000000f")
    found = cpuid_findings(read_cpuid_dump(str(p)))
    assert rules(found) == ["X004"] and "XFD" in found[0].message


def test_x004_xsave_clear_but_leaf_d_populated(tmp_path: Path) -> None:
    d = read_cpuid_dump(str(GUEST_GOOD))
    eax, ebx, ecx, edx = d.cpus[0][(1, 0)]
    rows = [{"leaf": leaf, "subleaf": sub, "eax": a, "ebx": b, "ecx": c, "edx": dd}
            for (leaf, sub), (a, b, c, dd) in d.cpus[0].items()]
    for r in rows:
        if r["leaf"] == 1:
            r["ecx"] = ecx & ~(1 << 26)
    p = tmp_path / "g.json"
    p.write_text(json.dumps(rows))
    found = cpuid_findings(read_cpuid_dump(str(p)))
    assert rules(found) == ["X004"] and "XSAVE is clear" in found[0].message


def test_x005_guest_vs_host() -> None:
    host_without_amx = read_cpuid_dump(str(X86 / "guest-spr-no-amx.txt"))
    found = cpuid_findings(read_cpuid_dump(str(GUEST_GOOD)), host=host_without_amx)
    x005 = fires(found, "X005")
    text = " ".join(f.message for f in x005)
    assert "AMX-TILE" in text and "XTILEDATA" in text
    # against itself: nothing
    clean(cpuid_findings(read_cpuid_dump(str(GUEST_GOOD)), host=read_cpuid_dump(str(GUEST_GOOD))), "X005")


def test_x006_cpus_disagree_but_apic_ids_may_differ(tmp_path: Path) -> None:
    d = read_cpuid_dump(str(GUEST_GOOD))
    assert d.cpus[0][(1, 0)][1] != d.cpus[1][(1, 0)][1]  # APIC IDs differ ...
    assert cpuid_findings(d) == []                         # ... and that is fine
    clean(cpuid_findings(d), "X006")
    text = GUEST_GOOD.read_text()
    cut = text.index("CPU 1:")
    p = tmp_path / "g.txt"
    p.write_text(text[:cut] + text[cut:].replace("eax=0x000602e7", "eax=0x000002e7"))
    found = cpuid_findings(read_cpuid_dump(str(p)))
    assert "CPU 1" in fires(found, "X006")[0].message


def test_json_reader_variants(tmp_path: Path) -> None:
    base = [{"function": 0, "index": 0, "eax": "0xd", "ebx": 0x756E6547, "ecx": 0x6C65746E, "edx": 0x49656E69},
            {"leaf": "0x1", "eax": 0, "ebx": 0, "ecx": hex(1 << 26 | 1 << 28), "edx": 0},
            {"leaf": "0xd", "subleaf": 0, "eax": "0x202e7", "ebx": 0, "ecx": 0, "edx": 0}]
    for doc in (base, {"leaves": base}, {"cpus": [base, base]}, {"cpus": [{"leaves": base}]}):
        p = tmp_path / "d.json"
        p.write_text(json.dumps(doc))
        d = read_cpuid_dump(str(p))
        assert d.fmt == "json" and d.xcr0_mask() == 0x202E7
        fires(cpuid_findings(d), "X003")


@pytest.mark.parametrize(("content", "msg"), [
    ("", "empty"),
    ("   0x00000000 0x00: eax=0x0000000d ebx=0x756e6547 ecx=0x6c65\n", "truncated"),
    ("CPU 0:\n   0x00000000 0x00: eax=0x0000000d ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n"
     "   0x00000001 0x00: eax=0x000806f8 ebx=0x00010800 ecx=0x14000000 edx=0x0f8bfbff\n", "leaf 0xd is missing"),
    ("CPU 0:\n   0x00000000 0x00: eax=0x0000000d ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n", "leaf 0x1"),
    ("this is not a dump\n", "not `cpuid -r` output"),
    ("[{\"leaf\": 0}]", "missing 'eax'"),
    ("[{\"leaf\": 0, \"eax\": \"0x1ffffffff\", \"ebx\": 0, \"ecx\": 0, \"edx\": 0}]", "32-bit"),
    ("{\"leaves\": 3}", "non-empty list"),
    ("[1, 2", "invalid JSON"),
    ("CPU 0:\nCPU 1:\n", "no CPUID leaves"),
])
def test_bad_dumps(tmp_path: Path, content: str, msg: str) -> None:
    p = tmp_path / "d.txt"
    p.write_text(content)
    with pytest.raises(InputError, match=msg):
        read_cpuid_dump(str(p))


def test_truncated_last_cpu(tmp_path: Path) -> None:
    text = GUEST_GOOD.read_text()
    p = tmp_path / "cut.txt"
    p.write_text(text[: text.index("CPU 1:") + 300])
    with pytest.raises(InputError, match="truncated"):
        read_cpuid_dump(str(p))


def test_binary_and_missing_files_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "bin"
    p.write_bytes(b"\x7fELF\x00\x00junk")
    for args in (("cpuid", str(p)), ("cpuid", str(tmp_path / "missing")), ("xcr0", "0x7", "--cpuid", str(p)),
                 ("cpuid",), ("cpuid", str(GUEST_BAD), "--self")):
        proc = run_hvcheck(*args)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_cli_cpuid_and_xcr0_with_dump() -> None:
    proc = run_hvcheck("cpuid", str(GUEST_BAD), "--format", "json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and sorted(f["rule"] for f in doc["findings"]) == ["X003", "X004"]
    assert doc["dump"]["xcr0_mask"] == "0x202e7"
    proc = run_hvcheck("xcr0", "0x602e7", "--cpuid", str(GUEST_BAD), "--format", "json")
    doc = json.loads(proc.stdout)
    assert [f["rule"] for f in doc["findings"]] == ["X002"]
    assert doc["findings"][0]["data"]["unsupported_bits"] == ["0x12"]
    proc = run_hvcheck("cpuid", str(GUEST_GOOD))
    assert proc.returncode == 0 and "no findings" in proc.stdout


def test_self_reader_explains_or_reads() -> None:
    if not os.path.exists("/dev/cpu/0/cpuid"):
        with pytest.raises(InputError, match="modprobe cpuid"):
            read_self_cpuid()
        return
    if not os.access("/dev/cpu/0/cpuid", os.R_OK):
        with pytest.raises(InputError, match="root"):
            read_self_cpuid()
        return
    d = read_self_cpuid()
    assert isinstance(d, CpuidDump) and (0, 0) in d.leaves() and d.vendor()
    proc = run_hvcheck("cpuid", "--self", "--format", "json")
    assert proc.returncode in (0, 1) and json.loads(proc.stdout)["dump"]["format"] == "/dev/cpu"


def test_self_matches_cpuid_tool(tmp_path: Path) -> None:
    cpuid = require_tool("cpuid")
    if not os.access("/dev/cpu/0/cpuid", os.R_OK):
        pytest.skip("/dev/cpu/0/cpuid not readable here")
    p = tmp_path / "host.txt"
    p.write_text(subprocess.run([cpuid, "-r"], capture_output=True, text=True, check=True).stdout)
    tool, ours = read_cpuid_dump(str(p)), read_self_cpuid()
    for key in ((0, 0), (7, 0), (0xD, 0), (0xD, 1), (0x80000001, 0)):
        assert tool.get(*key) == ours.get(*key), key


def test_reader_accepts_pathlike_and_exposes_xcr0_supported() -> None:
    """Crash triage passes a Path and reads `xcr0_supported`; JSON output must still serialise."""
    from hvcheck.report.json_report import render_json

    d = read_cpuid_dump(GUEST_BAD)
    assert isinstance(d.path, str) and d.xcr0_supported == 0x202E7
    doc = json.loads(render_json(cpuid_findings(d)))
    assert doc["findings"][0]["locations"][0]["path"] == str(GUEST_BAD)
