"""`hvcheck triage` end to end: exit codes, formats, stdin, gzip, several logs, bad input."""

from __future__ import annotations

import gzip
import json

from conftest import run_hvcheck
from rulecheck import clean, fires
from triage_helpers import DEMO, FIX


def test_seed000_json() -> None:
    proc = run_hvcheck("triage", str(DEMO / "seed000-guest-console.log"), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    t003 = fires(out["findings"], "T003")[0]
    assert t003["data"]["xcr0"] == "0x202e7"
    assert out["logs"][0]["lines"] == "0x24"     # JSON renders integers as hex strings
    assert "cpuid" in out["missing_inputs"]


def test_stdin_and_gzip(tmp_path) -> None:
    text = (DEMO / "seed002-qemu-int.log").read_text()
    proc = run_hvcheck("triage", "-", "--format", "json", stdin=text)
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert [f["rule"] for f in out["findings"]] == ["T004"]
    assert fires(out["findings"], "T004")[0]["locations"][0]["path"] == "<stdin>"
    gz = tmp_path / "qemu.log.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    proc = run_hvcheck("triage", str(gz), "--format", "json")
    loc = json.loads(proc.stdout)["findings"][0]["locations"][0]
    assert loc["line"] == 7 and "illegal_instruction" in loc["detail"]


def test_note_only_exits_zero_and_fail_on_note() -> None:
    log = str(FIX / "linux-only-silent.log")
    assert run_hvcheck("triage", log).returncode == 0
    assert run_hvcheck("triage", log, "--fail-on", "note").returncode == 1


def test_several_logs_one_unreadable_is_e001(tmp_path) -> None:
    junk = tmp_path / "core"
    junk.write_bytes(bytes(range(256)) * 64)
    proc = run_hvcheck("triage", str(junk), str(FIX / "linux-only-silent.log"), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert [f["rule"] for f in findings] == ["E001", "T005"]
    (e001,) = fires(findings, "E001")
    assert e001["locations"][0]["path"] == str(junk)
    # Both logs readable: no E001, both still read.
    proc = run_hvcheck("triage", str(FIX / "linux-only-silent.log"), str(DEMO / "seed002-qemu-int.log"),
                       "--format", "json")
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    clean(findings, "E001")
    fires(findings, "T004")


def test_bad_inputs_exit_2_one_line(tmp_path) -> None:
    junk = tmp_path / "core"
    junk.write_bytes(bytes(range(256)) * 64)
    bad_gz = tmp_path / "x.log.gz"
    bad_gz.write_bytes(gzip.compress(b"a" * 5000)[:30])
    bad_elf = tmp_path / "hv.elf"
    bad_elf.write_bytes(b"\x7fELF garbage")
    for args in ([str(junk)], [str(bad_gz)], [str(tmp_path / "missing.log")],
                 [str(FIX / "linux-only-silent.log"), "--elf", str(bad_elf)]):
        proc = run_hvcheck("triage", *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert "Traceback" not in proc.stderr


def test_text_report_shows_confidence_and_missing_inputs() -> None:
    proc = run_hvcheck("triage", str(DEMO / "seed001-hvisor-console.log"))
    assert proc.returncode == 0    # T005 is a note: without a layout nothing is claimed
    assert "[unknown]" in proc.stdout and "not available: layout" in proc.stdout


def test_sarif() -> None:
    proc = run_hvcheck("triage", str(DEMO / "seed002-qemu-int.log"), "--format", "sarif")
    out = json.loads(proc.stdout)
    assert out["runs"][0]["results"][0]["ruleId"] == "T004"


EXAMPLES = DEMO.parent


def test_cpuid_dump_adds_x003() -> None:
    cpuid = EXAMPLES / "x86" / "guest-cpuid-202e7.txt"
    proc = run_hvcheck("triage", str(DEMO / "seed000-guest-console.log"), "--cpuid", str(cpuid), "--format", "json")
    out = json.loads(proc.stdout)
    rules = sorted(f["rule"] for f in out["findings"])
    assert {"T003", "X001", "X003"} <= set(rules)
    t003 = fires(out["findings"], "T003")[0]
    assert t003["data"]["confidence"] == "established"


def test_riscv_elf_establishes_t004() -> None:
    elf = EXAMPLES / "riscv" / "seed_mtvec.elf"
    proc = run_hvcheck("triage", str(DEMO / "seed002-qemu-int.log"), "--riscv-elf", str(elf), "--format", "json")
    out = json.loads(proc.stdout)
    t004 = fires(out["findings"], "T004")[0]
    assert t004["data"]["confidence"] == "established"
    assert "inside the 4-byte nop" in t004["data"]["image_says"]
    assert "R002" in t004["data"]["related_rules"]


def test_hv_elf_symbols_give_the_range(tmp_path) -> None:
    from conftest import require_tool

    assembler = require_tool("riscv64-linux-gnu-as")
    src = tmp_path / "hv.S"
    src.write_text(".globl skernel, __core_end, __hv_end\n.set skernel, 0x40400000\n"
                   ".set __core_end, 0x40a00000\n.set __hv_end, 0x41c00000\n")
    obj = tmp_path / "hvisor.elf"
    import subprocess
    subprocess.run([assembler, str(src), "-o", str(obj)], check=True)
    proc = run_hvcheck("triage", str(DEMO / "seed001-hvisor-console.log"), "--elf", str(obj), "--format", "json")
    out = json.loads(proc.stdout)
    t001 = out["findings"][0]
    assert t001["rule"] == "T001" and t001["data"]["hv_start"] == "0x40400000"
    assert t001["data"]["hv_end"] == "0x41c00000" and t001["data"]["confidence"] == "established"
    assert {"path": str(obj), "line": None, "symbol": "__hv_end"} in t001["locations"]
    no_syms = tmp_path / "other.elf"
    (tmp_path / "o.S").write_text(".globl foo\nfoo: nop\n")
    subprocess.run([assembler, str(tmp_path / "o.S"), "-o", str(no_syms)], check=True)
    proc = run_hvcheck("triage", str(DEMO / "seed001-hvisor-console.log"), "--elf", str(no_syms))
    assert proc.returncode == 2 and "__hv_end not found" in proc.stderr


def test_hvisor_board_directory_layout_with_estimated_extent(tmp_path) -> None:
    board = EXAMPLES / "hvisor" / "platform" / "aarch64" / "rk-stomp"
    rec = ("[WARN  0] (hvisor::memory::mmio:109) Zone 0 unhandled mmio fault MMIOAccess {{\n"
           "    address: {addr},\n    size: 0x8,\n    is_write: true,\n    value: 0x0,\n}}\n")
    log = tmp_path / "console.log"
    # 0x61000000 is inside hvisor for any assumed image size; 0x64900000 only for large ones.
    log.write_text(rec.format(addr="0x61000000") + rec.format(addr="0x64900000"))
    proc = run_hvcheck("triage", str(log), "--layout", str(board), "--format", "json")
    out = json.loads(proc.stdout)
    t001 = {f["data"]["fault_address"]: f["data"]["confidence"] for f in out["findings"] if f["rule"] == "T001"}
    assert t001 == {"0x61000000": "established", "0x64900000": "probable"}
    assert {"M001", "M002"} <= {f["rule"] for f in out["findings"]}


def _assemble_hv(tmp_path, start: int, end: int, name: str = "hv.elf"):
    import subprocess

    from conftest import require_tool

    src = tmp_path / (name + ".S")
    src.write_text(f".globl skernel, __hv_end\n.set skernel, {start:#x}\n.set __hv_end, {end:#x}\n")
    obj = tmp_path / name
    subprocess.run([require_tool("riscv64-linux-gnu-as"), str(src), "-o", str(obj)], check=True)
    return obj


def test_t001_and_m001_read_the_same_range_from_the_same_elf(tmp_path) -> None:
    # The ELF says hvisor is larger than the layout file claims; with --layout and --elf both the
    # layout rules and the triage diagnosis must use the ELF's [skernel, __hv_end), read once.
    elf = _assemble_hv(tmp_path, 0x40400000, 0x42000000)
    log = tmp_path / "console.log"
    log.write_text("[WARN  0] (hvisor::memory::mmio:109) Zone 0 unhandled mmio fault MMIOAccess {\n"
                   "    address: 0x41e00000,\n    size: 0x8,\n    is_write: true,\n    value: 0x0,\n}\n")
    proc = run_hvcheck("triage", str(log), "--layout", str(DEMO / "seed001-layout.yaml"), "--elf", str(elf),
                       "--format", "json")
    findings = json.loads(proc.stdout)["findings"]
    (t001,) = fires(findings, "T001")
    m001 = fires(findings, "M001")[0]
    assert (t001["data"]["hv_start"], t001["data"]["hv_end"]) == ("0x40400000", "0x42000000")
    assert (m001["data"]["hv_start"], m001["data"]["hv_end"]) == (t001["data"]["hv_start"], t001["data"]["hv_end"])
    assert t001["data"]["confidence"] == "established"


def test_elf_linked_at_a_virtual_address_is_not_translated_without_its_layout(tmp_path) -> None:
    # A LoongArch DMW-window link address: only the layout (board) knows the translation, so triage
    # says what it would need instead of guessing a physical range (and claims no T001).
    elf = _assemble_hv(tmp_path, 0x9000000080000000, 0x9000000082000000)
    log = tmp_path / "console.log"
    log.write_text("[WARN  0] (hvisor::memory::mmio:109) Zone 0 unhandled mmio fault MMIOAccess {\n"
                   "    address: 0x80100000,\n    size: 0x8,\n    is_write: true,\n    value: 0x0,\n}\n")
    proc = run_hvcheck("triage", str(log), "--elf", str(elf), "--format", "json")
    out = json.loads(proc.stdout)
    clean(out["findings"], "T001")
    fires(out["findings"], "T005")
    assert "virtual 0x9000000080000000" in out["missing_inputs"]["hypervisor range"]
