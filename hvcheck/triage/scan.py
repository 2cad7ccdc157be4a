"""Run every reader over one log in a single streaming pass.

Most lines of a console log are noise. Each raw line is first matched (as bytes, before any
decoding) against the union of the readers' triggers; only matching lines, and lines inside a
reader's open multi-line record, are decoded, cleaned and handed to the readers. QEMU RISC-V
trap lines, which can number in the millions, take a bytes-only fast path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcheck.triage.arm64_oops import Arm64OopsReader
from hvcheck.triage.facts import Fault, ScanStats
from hvcheck.triage.hvisor import HvisorReader
from hvcheck.triage.kvm import KvmErrorReader
from hvcheck.triage.opensbi import OpenSbiReader
from hvcheck.triage.qemu_trace import QemuTraceReader
from hvcheck.triage.reader import Reader
from hvcheck.triage.source import LogLine, clean, display_name, iter_raw_lines, strip_ansi
from hvcheck.triage.x86_oops import X86OopsReader


@dataclass
class ScanResult:
    path: str
    stats: ScanStats
    faults: list[Fault] = field(default_factory=list)
    readers: dict[str, Reader] = field(default_factory=dict)

    @property
    def hvisor(self) -> HvisorReader:
        reader = self.readers["hvisor"]
        assert isinstance(reader, HvisorReader)
        return reader

    @property
    def qemu(self) -> QemuTraceReader:
        reader = self.readers["qemu-trace"]
        assert isinstance(reader, QemuTraceReader)
        return reader


def make_readers() -> list[Reader]:
    return [HvisorReader(), X86OopsReader(), Arm64OopsReader(), OpenSbiReader(), KvmErrorReader(), QemuTraceReader()]


def scan(path: str) -> ScanResult:
    """Scan one log (a path, or '-' for stdin; gzip detected by magic). Raises InputError."""
    name = display_name(path)
    readers = make_readers()
    qemu = readers[-1]
    assert isinstance(qemu, QemuTraceReader)
    others = readers[:-1]
    union = re.compile(b"|".join(b"(?:" + r.trigger.pattern + b")" for r in readers))
    rv_fast = b"riscv_cpu_do_interrupt"
    search = union.search
    number = 0
    for raw in iter_raw_lines(path):
        number += 1
        hit = search(raw)
        if hit is None and not any(r.active for r in readers):
            continue
        if hit is not None and raw.find(rv_fast) >= 0 and qemu.feed_raw(raw, name, number):
            continue
        decoded = raw.decode("utf-8", "replace")
        line = LogLine(name, number, clean(decoded), strip_ansi(decoded.rstrip("\r\n")))
        for reader in readers:
            if reader.active or reader.trigger.search(raw):
                reader.feed(line)
    for reader in readers:
        reader.finish()
    stats = ScanStats(name, lines=number)
    hv = readers[0]
    assert isinstance(hv, HvisorReader)
    stats.hvisor_records = hv.records
    stats.trace_records = qemu.records
    result = ScanResult(name, stats, readers={r.name: r for r in readers})
    for reader in others + [qemu]:
        if reader.faults:
            stats.readers_seen.add(reader.name)
        result.faults.extend(reader.faults)
    result.faults.sort(key=lambda f: f.first_line)
    return result


def scan_lines(lines: list[str], path: str = "<test>") -> ScanResult:
    """Scan in-memory text (tests, property tests): same code path as files, via a temp file."""
    import tempfile

    with tempfile.NamedTemporaryFile("wb", suffix=".log", delete=True) as fh:
        fh.write("\n".join(lines).encode("utf-8", "surrogatepass"))
        fh.flush()
        result = scan(fh.name)
    result.path = path
    return result
