"""The conformance harness itself: its build, its records, and its behaviour under the real QEMU.

These tests do not need the spec classifier of hvcheck.riscv.rvc; they use the independent
mask:match oracle in spec_oracle.py.
"""

from __future__ import annotations

import gzip
import shutil
import struct
import subprocess

import pytest
from conftest import require_tool
from spec_oracle import classify_rv64gc

from hvcheck.errors import InputError
from hvcheck.riscv import conformance as conf

MUST_TRAP = {h for h in conf.COMPRESSED if classify_rv64gc(h) in ("reserved", "illegal")}


@pytest.fixture(scope="module")
def qemu_run() -> conf.HarnessRun:
    require_tool("qemu-riscv64")
    return conf.run_user("qemu-riscv64")


@pytest.fixture(scope="module")
def system_run() -> conf.HarnessRun:
    require_tool("qemu-system-riscv64")
    return conf.run_system("qemu-system-riscv64")


def test_prebuilt_harnesses_match_their_sources(tmp_path) -> None:
    """The committed ELFs are exactly what build.sh makes from the committed sources."""
    require_tool("riscv64-linux-gnu-gcc")
    work = tmp_path / "src"
    shutil.copytree(conf.SRC_DIR, work)
    elfs = (conf.HARNESS_USER, conf.HARNESS_USER32, conf.HARNESS_SYSTEM)
    for elf in elfs:
        (work / elf.name).unlink()
    subprocess.run(["sh", str(work / "build.sh")], check=True, capture_output=True)
    for elf in elfs:
        assert (work / elf.name).read_bytes() == elf.read_bytes(), elf.name


@pytest.mark.parametrize("harness, elfclass", [(conf.HARNESS_USER, 64), (conf.HARNESS_USER32, 32)])
def test_harness_segments_keep_scratch_non_executable(harness, elfclass) -> None:
    """Only the test area may be writable and executable (register jumps must fault)."""
    from elftools.elf.elffile import ELFFile

    with open(harness, "rb") as fh:
        elf = ELFFile(fh)
        assert elf.elfclass == elfclass and elf["e_machine"] == "EM_RISCV"
        flags = [seg["p_flags"] for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"]
        test_area = elf.get_section_by_name(".testarea")
        assert test_area is not None and test_area["sh_size"] == 8192
    assert flags == [5, 7, 6]  # r-x text, rwx test area, rw- data/bss


def test_qemu_traps_exactly_the_spec_must_trap_set(qemu_run: conf.HarnessRun) -> None:
    """DESIGN.md §4: QEMU 7.2 traps on exactly the 2409 RV64 reserved+illegal halfwords."""
    trapped = {h for h, o in qemu_run.outcomes.items() if o.trapped_illegal}
    assert len(qemu_run.outcomes) == 49152
    assert 0x0000 in trapped
    assert trapped == MUST_TRAP
    assert len(trapped) == 2409


def test_full_run_is_fast(qemu_run: conf.HarnessRun) -> None:
    assert qemu_run.seconds <= 10.0


def test_harness_tells_how_each_instruction_ended(qemu_run: conf.HarnessRun) -> None:
    """The records distinguish fall-through, jumps, loops, memory access and breakpoints, and see
    exactly which registers an instruction wrote."""
    o = qemu_run.outcomes
    # c.addi4spn s0, sp, 4: falls through, writes only x8
    assert (o[0x0040].signal, o[0x0040].pc_delta, o[0x0040].changed) == (conf.SIGTRAP, 2, 1 << 8)
    # c.li a0, 0 writes x10; c.nop writes nothing
    assert o[0x4501].changed == 1 << 10 and o[0x0001].changed == 0
    # c.jr ra: fetch fault at the scratch address in ra (non-executable), nothing written
    assert o[0x8082].signal == conf.SIGSEGV and abs(o[0x8082].pc_delta) > conf.TEST_AREA_HALF
    # c.jalr ra: writes ra (the link) and faults on fetch
    assert o[0x9082].signal == conf.SIGSEGV and o[0x9082].changed == 1 << 1
    # c.j . loops forever: caught by the watchdog at the slot
    assert (o[0xA001].signal, o[0xA001].pc_delta) == (conf.SIGALRM, 0)
    # c.j +8 lands on a guard 8 bytes on
    assert (o[0xA021].signal, o[0xA021].pc_delta) == (conf.SIGTRAP, 8)
    # c.ebreak is itself a breakpoint
    assert (o[0x9002].signal, o[0x9002].pc_delta) == (conf.SIGTRAP, 0)
    # c.sdsp ra, 0(sp): a store into scratch memory, then the guard
    assert (o[0xE006].signal, o[0xE006].pc_delta, o[0xE006].changed) == (conf.SIGTRAP, 2, 0)
    assert "changed x8 (s0/fp)" in o[0x0040].describe()
    assert "never trapped" in o[0xA001].describe()


def test_only_self_branches_need_the_watchdog(qemu_run: conf.HarnessRun) -> None:
    """c.j . and c.bnez x8..x15, . (registers are non-zero) are the only endless loops."""
    looped = {h for h, o in qemu_run.outcomes.items() if o.signal == conf.SIGALRM}
    assert looped == {0xA001} | {0xE001 | r << 7 for r in range(8)}


def _records(outcomes: dict[int, conf.Outcome]) -> bytes:
    return conf.MAGIC + b"".join(conf.RECORD.pack(o.halfword, o.signal, o.si_code, o.pc_delta, o.changed,
                                                  o.fault_addr) for o in outcomes.values())


def _spec_outcomes() -> dict[int, conf.Outcome]:
    return {h: conf.Outcome(h, conf.SIGILL if h in MUST_TRAP else conf.SIGTRAP, 0,
                            0 if h in MUST_TRAP else 2, 0, 0) for h in conf.COMPRESSED}


def test_parse_round_trip() -> None:
    outcomes = _spec_outcomes()
    assert conf.parse_records(_records(outcomes), "x") == (64, outcomes)
    assert conf.parse_records(conf.MAGIC32 + _records(outcomes)[8:], "x") == (32, outcomes)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"NOTMAGIC" + d[8:], "does not start with"),
    (lambda d: d[:-3], "truncated"),
    (lambda d: d[:-16], "49151 of 49152"),
    (lambda d: d + d[8:24], "twice"),
    (lambda d: d + struct.pack("<HBbiII", 0x0003, 4, 0, 0, 0, 0), "non-compressed"),
    (lambda d: b"", "does not start with"),
])
def test_parse_rejects_broken_output(mutate, message) -> None:
    with pytest.raises(InputError, match=message):
        conf.parse_records(mutate(_records(_spec_outcomes())), "out.bin")


def test_saved_results_raw_and_gzip(tmp_path) -> None:
    data = _records(_spec_outcomes())
    raw, gz = tmp_path / "out.bin", tmp_path / "out.bin.gz"
    raw.write_bytes(data)
    gz.write_bytes(gzip.compress(data))
    assert conf.load_results(str(raw)).outcomes == conf.load_results(str(gz)).outcomes
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"junk" * 10)
    with pytest.raises(InputError, match="gzip"):
        conf.load_results(str(tmp_path / "bad.gz"))
    with pytest.raises(InputError, match="cannot read"):
        conf.load_results(str(tmp_path / "missing.bin"))


def test_missing_emulator_is_an_error_not_a_pass() -> None:
    with pytest.raises(InputError, match="not found"):
        conf.run_user("/nonexistent/qemu-riscv64")


def test_bare_metal_qemu_traps_exactly_the_spec_must_trap_set(system_run: conf.HarnessRun) -> None:
    """The M-mode harness (tests in U-mode under PMP) on qemu-system-riscv64 -M virt -bios none."""
    assert system_run.mode == "system" and len(system_run.outcomes) == 49152
    trapped = {h for h, o in system_run.outcomes.items() if o.trapped_illegal}
    assert trapped == MUST_TRAP
    assert system_run.seconds <= 10.0


def test_bare_metal_and_user_mode_agree(qemu_run: conf.HarnessRun, system_run: conf.HarnessRun) -> None:
    """Both harnesses see the same end for every halfword, except where the register jumps land
    (the scratch page is at a different address): the same decoder, two different trap paths."""
    s, u = system_run.outcomes, qemu_run.outcomes
    differ = {h for h in conf.COMPRESSED if (s[h].signal, s[h].pc_delta, s[h].changed) !=
              (u[h].signal, u[h].pc_delta, u[h].changed)}
    register_jumps = {h for h in conf.COMPRESSED if conf.rvc_slot(h) in ("C.JR", "C.JALR") and h not in MUST_TRAP}
    assert differ == register_jumps
    # c.jr ra in U-mode: an instruction access fault (cause 1) on the PMP-protected scratch page
    assert (s[0x8082].signal, s[0x8082].si_code) == (conf.SIGSEGV, 1)
    assert (s[0xA001].signal, s[0xA001].pc_delta) == (conf.SIGALRM, 0)


def test_rv32_qemu_traps_exactly_the_rv32_must_trap_set() -> None:
    """RV32GC must trap on 3945 halfwords (RV32-only reserved C.SUBW/C.ADDW rows and the custom
    shamt[5]=1 shifts included); the RV32 build of the same harness under qemu-riscv32."""
    from hvcheck.riscv.rvc import classify16

    require_tool("qemu-riscv32")
    run = conf.run_user("qemu-riscv32")
    assert run.xlen == 32 and run.harness == conf.HARNESS_USER32
    trapped = {h for h, o in run.outcomes.items() if o.trapped_illegal}
    must = {h for h in conf.COMPRESSED if classify16(h, xlen=32) in ("reserved", "illegal")}
    assert len(must) == 3945 and trapped == must
    o = run.outcomes
    assert (o[0x2001].signal, o[0x2001].changed) == (conf.SIGALRM, 1 << 1)  # c.jal . loops, writes ra
    assert (o[0x0040].signal, o[0x0040].pc_delta, o[0x0040].changed) == (conf.SIGTRAP, 2, 1 << 8)
    assert conf.rvc_slot(0x2001, 32) == "C.JAL" and conf.rvc_slot(0x2001, 64) == "C.ADDIW"
