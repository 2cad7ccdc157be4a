"""Emulator conformance for the 16-bit (compressed) RISC-V encoding space (rule R010).

A prebuilt harness (``conformance_src/``: our own assembly, rebuilt by ``build.sh``) executes all
49152 halfwords whose low two bits are not ``11`` once, in a single emulator process, and records
how each ended: ``rvc_user.S`` under qemu-riscv64 / qemu-riscv32 (Linux user mode, signals),
``rvc_system.S`` on qemu-system-riscv64 -M virt -bios none (M-mode trap handler, tests in U-mode
under PMP; exceptions recorded as the signal Linux would send). This module runs a harness,
parses the records, and compares "trapped as illegal or not" with the spec class of each halfword:

* ``illegal`` (0x0000, U-2019 §1.5/§16.5) must trap: not trapping is an error — the seed-002
  bug (QEMU 2.12-3.1 ran 0x0000 followed by a non-zero halfword as ``c.addi4spn fp, sp, 0``);
* ``valid`` and ``hint`` must not trap as illegal (HINTs execute as no-ops, U-2019 §16.7): error;
* ``reserved``: behaviour is UNSPECIFIED by the ISA (U-2019 §2.2), but QEMU >= 4.1, Spike and the
  Sail model trap on every one; executing one is reported as a warning.

The spec classes come from ``hvcheck.riscv.rvc`` (the riscv area's spec-exact decoder, imported
lazily); tests may inject another classifier.
"""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import subprocess
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvcheck.errors import InputError, LimitExceeded
from hvcheck.findings import Finding, Location, Severity, declare_rule
from hvcheck.inputs import open_input, read_stream

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("R010", "emulator conformance: trap behaviour differs from the spec", Severity.ERROR, "riscv")

SRC_DIR = Path(__file__).resolve().parent / "conformance_src"
HARNESS_USER = SRC_DIR / "rvc_user.elf"
HARNESS_USER32 = SRC_DIR / "rvc_user32.elf"  # the same source built for RV32GC
HARNESS_SYSTEM = SRC_DIR / "rvc_system.elf"
SYSTEM_OUTPUT = "rvc_system.out"  # written by rvc_system.S through semihosting, in QEMU's cwd
SYSTEM_EXIT = {1: "could not write its results through semihosting (QEMU without RISC-V semihosting?)",
               2: "trapped in M-mode (a harness bug or an emulator that traps where it must not)"}

MAGIC = b"HVRCONF1"  # RV64 harnesses
MAGIC32 = b"HVRC32V1"  # the RV32 build of rvc_user.S
XLEN_OF_MAGIC = {MAGIC: 64, MAGIC32: 32}
RECORD = struct.Struct("<HBbiII")  # halfword, signal, si_code, pc - test_slot, changed regs, si_addr
COMPRESSED = tuple(h for h in range(0x10000) if h & 3 != 3)  # 49152 halfwords
MAX_OUTPUT = len(MAGIC) + RECORD.size * 65536  # the harness never writes more; read no more

SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV, SIGALRM = 4, 5, 7, 8, 11, 14
SIGNAL_NAMES = {SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
                SIGSEGV: "SIGSEGV", SIGALRM: "SIGALRM"}
TEST_AREA_HALF = 4096  # bytes of c.ebreak guards on each side of test_slot (rvc_user.S)

ABI_NAMES = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0/fp", "s1", "a0", "a1", "a2", "a3", "a4",
             "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
             "t5", "t6"]

Classifier = Callable[..., str]  # classify16(hw, xlen=64, extensions=frozenset()) -> label


@dataclass(frozen=True)
class Outcome:
    """How one halfword's execution ended in the harness."""

    halfword: int
    signal: int
    si_code: int
    pc_delta: int  # trapping pc minus the address of test_slot
    changed: int  # bit i set: x_i differed from its preset value at the trap
    fault_addr: int  # low 32 bits of si_addr

    @property
    def trapped_illegal(self) -> bool:
        """An illegal-instruction trap on the halfword itself (not on something it jumped to)."""
        return self.signal == SIGILL and self.pc_delta == 0

    def changed_registers(self) -> list[str]:
        return [f"x{i} ({ABI_NAMES[i]})" for i in range(1, 32) if self.changed >> i & 1]

    def describe(self) -> str:
        sig = SIGNAL_NAMES.get(self.signal, f"signal {self.signal}")
        d = self.pc_delta
        if self.trapped_illegal:
            what = "trapped as illegal at the instruction"
        elif self.signal == SIGTRAP and d == 2:
            what = "executed and fell through to the next guard"
        elif self.signal == SIGTRAP and d == 0:
            what = "executed as a breakpoint (a breakpoint trap at the instruction)"
        elif self.signal == SIGTRAP and -TEST_AREA_HALF <= d < TEST_AREA_HALF:
            what = f"executed and transferred control to test_slot{d:+#x}"
        elif self.signal == SIGALRM:
            what = f"executed and never trapped (still looping at test_slot{d:+#x}; stopped by the watchdog)"
        elif self.signal in (SIGSEGV, SIGBUS) and d == 0:
            what = f"executed and faulted on a memory access ({sig})"
        elif self.signal in (SIGSEGV, SIGBUS):
            what = f"executed and jumped out of the test area ({sig} on fetch)"
        elif self.signal == SIGILL:
            what = f"executed, then an illegal-instruction trap at test_slot{d:+#x}"
        else:
            what = f"{sig} at test_slot{d:+#x}"
        regs = self.changed_registers()
        return what + (f"; changed {', '.join(regs)}" if regs else "")


@dataclass
class HarnessRun:
    """All outcomes of one emulator run, with what produced them."""

    emulator: str  # path or name as given
    version: str
    mode: str  # "user" (qemu-riscv64), "system" or "recorded"
    harness: Path
    outcomes: dict[int, Outcome]
    seconds: float = 0.0
    xlen: int = 64


def parse_records(data: bytes, source: str) -> tuple[int, dict[int, Outcome]]:
    """Parse the harness output into (XLEN, outcomes); anything but one record per compressed
    halfword is an error."""
    xlen = XLEN_OF_MAGIC.get(data[:len(MAGIC)])
    if xlen is None:
        raise InputError(source, f"harness output does not start with {MAGIC.decode()!r} or {MAGIC32.decode()!r} "
                                 f"({len(data)} bytes: {data[:16]!r}...)")
    body = data[len(MAGIC):]
    if len(body) % RECORD.size:
        raise InputError(source, f"harness output is truncated ({len(body)} bytes of records, "
                                 f"not a multiple of {RECORD.size})")
    outcomes: dict[int, Outcome] = {}
    for fields in RECORD.iter_unpack(body):
        o = Outcome(*fields)
        if o.halfword & 3 == 3:
            raise InputError(source, f"harness recorded non-compressed halfword {o.halfword:#06x}")
        if o.halfword in outcomes:
            raise InputError(source, f"harness recorded halfword {o.halfword:#06x} twice")
        outcomes[o.halfword] = o
    if len(outcomes) != len(COMPRESSED):
        missing = [h for h in COMPRESSED if h not in outcomes]
        raise InputError(source, f"harness recorded {len(outcomes)} of {len(COMPRESSED)} halfwords; "
                                 f"first missing {missing[0]:#06x}")
    return xlen, outcomes


def _resolve_tool(name: str, what: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise InputError(name, f"{what} not found (not on PATH and not an executable file); "
                               "install it (Debian: qemu-user / qemu-system-misc) or pass its path; "
                               "nothing was checked")
    return path


def tool_version(path: str) -> str:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown version"
    first = proc.stdout.strip().splitlines()
    return first[0] if first else "unknown version"


def _run_bounded(argv: list[str], name: str, timeout: float, cwd: str | None = None) -> tuple[int, bytes, str, float]:
    """Run an emulator with its output going to temporary files (memory stays bounded whatever
    it prints); return (exit status, at most MAX_OUTPUT + 1 bytes of stdout, last stderr line,
    seconds)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout, cwd=cwd)
        except subprocess.TimeoutExpired:
            raise InputError(name, f"harness did not finish within {timeout:g} s") from None
        except OSError as exc:
            raise InputError(name, f"cannot run: {exc.strerror or exc}") from None
        seconds = time.perf_counter() - t0
        out.seek(0)
        data = out.read(MAX_OUTPUT + 1)
        err.seek(0, 2)
        err.seek(max(0, err.tell() - 4096))
        lines = err.read().decode(errors="replace").strip().splitlines()
    return proc.returncode, data, lines[-1] if lines else "", seconds


def guess_xlen(emulator: str) -> int:
    """qemu-riscv32 / qemu-system-riscv32 emulate RV32; everything else is taken as RV64."""
    return 32 if "riscv32" in Path(emulator).name else 64


def run_user(qemu: str = "qemu-riscv64", *, cpu: str | None = None, xlen: int | None = None,
             timeout: float = 120.0) -> HarnessRun:
    """Run the Linux user-mode harness under ``qemu`` (a path or a name on PATH); the RV32 build
    for an RV32 emulator (``xlen``, or guessed from the name)."""
    path = _resolve_tool(qemu, "QEMU user-mode emulator")
    xlen = xlen or guess_xlen(qemu)
    harness = HARNESS_USER32 if xlen == 32 else HARNESS_USER
    argv = [path, *(["-cpu", cpu] if cpu else []), str(harness)]
    status, data, err, seconds = _run_bounded(argv, qemu, timeout)
    if status != 0:
        raise InputError(qemu, f"harness exited with status {status}" + (f": {err}" if err else ""))
    if len(data) > MAX_OUTPUT:
        raise InputError(qemu, "harness output is larger than any valid run")
    got_xlen, outcomes = parse_records(data, qemu)
    if got_xlen != xlen:
        raise InputError(qemu, f"the RV{xlen} harness reported RV{got_xlen} results")
    return HarnessRun(qemu, tool_version(path), "user", harness, outcomes, seconds, xlen)


def run_system(qemu: str = "qemu-system-riscv64", *, cpu: str | None = None, harness: Path = HARNESS_SYSTEM,
               timeout: float = 120.0) -> HarnessRun:
    """Run the bare-metal harness on ``qemu -M virt -bios none`` (M-mode harness, U-mode tests)."""
    import tempfile

    path = _resolve_tool(qemu, "QEMU system emulator")
    if guess_xlen(qemu) == 32:
        raise InputError(qemu, "the bare-metal harness is RV64 only; use --qemu-user qemu-riscv32 for RV32")
    argv = [path, "-M", "virt", "-bios", "none", "-nographic", "-smp", "1", "-m", "128M",
            "-semihosting-config", "enable=on,target=native", *(["-cpu", cpu] if cpu else []),
            "-kernel", str(harness)]
    with tempfile.TemporaryDirectory(prefix="hvcheck-rvc-") as work:
        status, _, err, seconds = _run_bounded(argv, qemu, timeout, cwd=work)
        if status != 0:
            why = SYSTEM_EXIT.get(status, err)
            raise InputError(qemu, f"harness exited with status {status}" + (f": {why}" if why else ""))
        out = Path(work) / SYSTEM_OUTPUT
        try:
            with open(out, "rb") as fh:
                data = fh.read(MAX_OUTPUT + 1)
        except OSError:
            raise InputError(qemu, f"harness wrote no {SYSTEM_OUTPUT} (semihosting not working?)") from None
    if len(data) > MAX_OUTPUT:
        raise InputError(qemu, "harness output is larger than any valid run")
    _, outcomes = parse_records(data, qemu)
    return HarnessRun(qemu, tool_version(path), "system", harness, outcomes, seconds)


def load_results(path: str) -> HarnessRun:
    """A saved harness output (``rvc_user.elf > out.bin``, e.g. from a real riscv64 board or an
    emulator on another machine), raw or gzip-compressed."""
    try:
        with open_input(path) as fh:
            # A gzip of any valid output is smaller than twice the output.
            raw = read_stream(fh, path, MAX_OUTPUT * 2, "conformance results")
            stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if raw[:2] == b"\x1f\x8b" else io.BytesIO(raw)
            data = stream.read(MAX_OUTPUT + 1)
    except LimitExceeded:
        raise InputError(path, "larger than any harness output") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:  # BadGzipFile is an OSError: first
        raise InputError(path, f"broken gzip data: {exc}") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_OUTPUT:
        raise InputError(path, "larger than any harness output")
    xlen, outcomes = parse_records(data, path)
    return HarnessRun(path, "recorded harness output", "recorded", HARNESS_USER32 if xlen == 32 else HARNESS_USER,
                      outcomes, xlen=xlen)


# --- comparison with the spec ------------------------------------------------------------------

MUST_TRAP = frozenset({"illegal", "reserved"})

_Q0 = ["C.ADDI4SPN", "C.FLD", "C.LW", "C.LD", "quadrant-0 funct3=100 (Zcb space)", "C.FSD", "C.SW", "C.SD"]
_Q1 = ["C.ADDI", "C.ADDIW", "C.LI", "C.LUI", "", "C.J", "C.BEQZ", "C.BNEZ"]
_Q2 = ["C.SLLI", "C.FLDSP", "C.LWSP", "C.LDSP", "", "C.FSDSP", "C.SWSP", "C.SDSP"]
_RV32_NAMES = {"C.LD": "C.FLW", "C.SD": "C.FSW", "C.ADDIW": "C.JAL", "C.LDSP": "C.FLWSP", "C.SDSP": "C.FSWSP"}
_ALU = ["C.SUB", "C.XOR", "C.OR", "C.AND", "C.SUBW", "C.ADDW", "MISC-ALU 100111-10 (Zcb space)",
        "MISC-ALU 100111-11 (Zcb space)"]


def rvc_slot(h: int, xlen: int = 64) -> str:
    """The C opcode slot a halfword falls in (used to group divergences, not to classify)."""
    name = _rv64_slot(h)
    return _RV32_NAMES.get(name, name) if xlen == 32 else name


def _rv64_slot(h: int) -> str:
    if h == 0:
        return "all-zero halfword (c.unimp)"
    quadrant, funct3 = h & 3, h >> 13
    if quadrant == 0:
        return _Q0[funct3]
    if quadrant == 1:
        if funct3 == 0:
            return "C.NOP" if h >> 7 & 31 == 0 else "C.ADDI"
        if funct3 == 3:
            return "C.ADDI16SP" if h >> 7 & 31 == 2 else "C.LUI"
        if funct3 == 4:
            sub = h >> 10 & 3
            if sub < 3:
                return ["C.SRLI", "C.SRAI", "C.ANDI"][sub]
            return _ALU[(h >> 12 & 1) << 2 | (h >> 5 & 3)]
        return _Q1[funct3]
    if quadrant == 2:
        if funct3 == 4:
            rs1, rs2 = h >> 7 & 31, h >> 2 & 31
            if not h >> 12 & 1:
                return "C.JR" if rs2 == 0 else "C.MV"
            if rs2 == 0:
                return "C.EBREAK" if rs1 == 0 else "C.JALR"
            return "C.ADD"
        return _Q2[funct3]
    return "not compressed"


@dataclass
class Divergence:
    """Halfwords of one spec class, in one opcode slot, that the emulator treated the same wrong way."""

    label: str
    slot: str
    trapped: bool
    halfwords: list[int] = field(default_factory=list)


def _spec_labels(classify: Classifier | None, xlen: int, exts: frozenset[str]) -> Callable[[int], str]:
    """Label lookup: the riscv area's spec-exact class table (one byte per halfword), or an
    injected classifier (tests)."""
    if classify is not None:
        return lambda h: classify(h, xlen=xlen, extensions=exts)
    from hvcheck.riscv.rvc import CLASSES, Profile, class_table

    try:
        profile = Profile.from_extensions(xlen, exts)
    except ValueError as exc:
        raise InputError("--extensions", str(exc)) from None
    table = class_table(profile)
    return lambda h: CLASSES[table[h]]


def _decoder(xlen: int, exts: frozenset[str]) -> Callable[[int], str]:
    """Assembly text of a halfword for examples (``c.addi4spn s0, sp, 4``), empty if unknown."""
    from hvcheck.riscv.rvc import Profile, decode16

    try:
        profile = Profile.from_extensions(xlen, exts)
    except ValueError:
        return lambda h: ""
    return lambda h: decode16(h, profile).text()


def compare(run: HarnessRun, *, classify: Classifier | None = None, xlen: int | None = None,
            extensions: Iterable[str] = (), reserved_must_trap: bool = False
            ) -> tuple[list[Finding], dict[str, dict[str, int]]]:
    """R010 findings (one per divergence class) and the per-spec-class count table.

    A reserved encoding that executes is a warning (the ISA leaves it UNSPECIFIED), or an error
    when ``reserved_must_trap`` says the platform requires it to trap."""
    exts = frozenset(e.lower() for e in extensions)
    xlen = xlen or run.xlen
    label_of = _spec_labels(classify, xlen, exts)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    groups: dict[tuple[str, str, bool], Divergence] = {}
    for h in COMPRESSED:
        label = label_of(h)
        o = run.outcomes[h]
        table[label]["halfwords"] += 1
        table[label]["trapped" if o.trapped_illegal else "executed"] += 1
        if o.trapped_illegal == (label in MUST_TRAP):
            continue
        table[label]["diverging"] += 1
        key = (label, rvc_slot(h, xlen), o.trapped_illegal)
        groups.setdefault(key, Divergence(*key)).halfwords.append(h)
    text_of = _decoder(xlen, exts)
    findings = [_finding(run, d, text_of, reserved_must_trap)
                for d in sorted(groups.values(), key=lambda d: (d.label, d.halfwords[0]))]
    order = ["valid", "hint", "reserved", "illegal"]
    counts = {label: {k: table[label][k] for k in ("halfwords", "trapped", "executed", "diverging")}
              for label in sorted(table, key=lambda lb: order.index(lb) if lb in order else len(order))}
    return findings, counts


def _finding(run: HarnessRun, d: Divergence, text_of: Callable[[int], str], reserved_must_trap: bool) -> Finding:
    n = len(d.halfwords)
    first = run.outcomes[d.halfwords[0]]
    examples = d.halfwords[:8]
    if d.trapped:
        what = f"{n} {d.label} encoding{'s' if n != 1 else ''} in the {d.slot} slot trapped as illegal"
        why = ("HINTs must execute as no-ops (U-2019 §16.7)" if d.label == "hint"
               else "a valid instruction must execute")
        severity = Severity.ERROR
        fix = "the emulator's RVC decoder rejects a defined instruction: fix or upgrade it"
    else:
        what = f"{n} {d.label} encoding{'s' if n != 1 else ''} in the {d.slot} slot did not trap"
        if d.label == "illegal":
            why = ("0x0000 is defined illegal (U-2019 §1.5, §16.5); software relies on it trapping — "
                   "executing it silently corrupts state (the RISC-V trap-vector incident: QEMU 2.12-3.1 ran it as "
                   "c.addi4spn fp, sp, 0, i.e. mv fp, sp)")
            severity = Severity.ERROR
            fix = "upgrade the emulator (QEMU >= 4.1 traps 0x0000); never validate trap handling on it"
        else:
            why = ("reserved encodings are UNSPECIFIED by the ISA (U-2019 §2.2) but QEMU >= 4.1, Spike and "
                   "Sail trap on them; an emulator that executes them hides reserved-encoding bugs (R005)")
            severity = Severity.ERROR if reserved_must_trap else Severity.WARNING
            fix = ("if the emulated CPU implements an extension that reuses this space (Zcb, Zcmop), "
                   "pass --extensions; otherwise report the decoder bug upstream")
    def example(h: int) -> str:
        asm = text_of(h)
        return f"{h:#06x}{f' ({asm})' if asm else ''}: {run.outcomes[h].describe()}"

    message = f"{run.emulator}: {what}; {why}. First: {example(first.halfword)}"
    return Finding(
        "R010",
        message,
        locations=[Location(run.emulator, None, detail=f"{run.version}; harness {run.harness.name} ({run.mode} mode)")],
        data={
            "emulator": run.emulator,
            "emulator_version": run.version,
            "mode": run.mode,
            "spec_class": d.label,
            "slot": d.slot,
            "observed": "trapped as illegal" if d.trapped else "did not trap",
            "count": n,
            "examples": [example(h) for h in examples],
        },
        fix=fix,
        severity=severity,
    )


def summary_table(run: HarnessRun, counts: dict[str, dict[str, int]], n_findings: int) -> str:
    """The text preamble: what ran, how long, and counts by spec class."""
    lines = [
        f"emulator: {run.emulator} ({run.version}), RV{run.xlen}, {run.mode} mode, harness {run.harness.name}",
        (f"recorded outcomes of {len(run.outcomes)} compressed halfwords" if run.mode == "recorded" else
         f"executed {len(run.outcomes)} compressed halfwords in {run.seconds:.2f} s (one process)"),
        "",
        f"{'spec class':<12} {'halfwords':>9} {'trapped':>8} {'executed':>9} {'diverging':>10}  expected",
    ]
    for label, c in counts.items():
        expect = "trap" if label in MUST_TRAP else "execute"
        lines.append(f"{label:<12} {c['halfwords']:>9} {c['trapped']:>8} {c['executed']:>9} "
                     f"{c['diverging']:>10}  {expect}")
    total = {k: sum(c[k] for c in counts.values()) for k in ("halfwords", "trapped", "executed", "diverging")}
    lines.append(f"{'total':<12} {total['halfwords']:>9} {total['trapped']:>8} {total['executed']:>9} "
                 f"{total['diverging']:>10}")
    lines.append(f"{n_findings} divergence class(es) reported as R010" if n_findings else
                 "no divergence: the emulator traps exactly the halfwords the spec says must trap")
    return "\n".join(lines)


def extra_json(run: HarnessRun, counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {"emulator": run.emulator, "version": run.version, "mode": run.mode, "xlen": run.xlen,
            "harness": run.harness.name, "halfwords": len(run.outcomes),
            "seconds": round(run.seconds, 3), "by_spec_class": counts}
