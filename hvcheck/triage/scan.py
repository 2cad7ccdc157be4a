"""Run every reader over one log in a single streaming pass.

Most lines of a console log are noise. Each raw line is first matched (as bytes, before any
decoding) against the union of the readers' triggers; only matching lines, and lines inside a
reader's open multi-line record, are decoded, cleaned and handed to the readers. QEMU RISC-V
trap lines, which can number in the millions, take a bytes-only fast path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcheck.triage.acrn import AcrnReader
from hvcheck.triage.bao import BaoReader
from hvcheck.triage.edk2 import Edk2Reader
from hvcheck.triage.facts import Fault, ScanStats
from hvcheck.triage.hvisor import HvisorReader
from hvcheck.triage.jailhouse import JailhouseReader
from hvcheck.triage.kvm import KvmErrorReader
from hvcheck.triage.linux_oops import LinuxOopsReader
from hvcheck.triage.opensbi import OpenSbiReader
from hvcheck.triage.qemu_trace import QemuTraceReader
from hvcheck.triage.reader import Reader
from hvcheck.triage.rustsbi import RustSbiReader
from hvcheck.triage.segment import BANNER_ANCHORS, Segmenter
from hvcheck.triage.sel4 import Sel4Reader
from hvcheck.triage.source import CHUNK, MAX_LINE, LogLine, clean, display_name, iter_chunks, strip_ansi
from hvcheck.triage.xen import XenReader


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


MAX_DIGITS = 1000
_ABSURD_NUMBER = re.compile(rb"[0-9A-Fa-f]{%d,}" % MAX_DIGITS)


def make_readers() -> list[Reader]:
    """Every reader; the QEMU trace reader last (the scanner's fast path relies on it)."""
    return [HvisorReader(), JailhouseReader(), BaoReader(), XenReader(), AcrnReader(), Sel4Reader(),
            LinuxOopsReader(), OpenSbiReader(), RustSbiReader(), Edk2Reader(), KvmErrorReader(), QemuTraceReader()]


def _anchor_regex(readers: list[Reader]) -> tuple[re.Pattern[bytes], dict[bytes, list[Reader]]]:
    owners: dict[bytes, list[Reader]] = {a: [] for a in BANNER_ANCHORS}
    for reader in readers:
        for anchor in reader.anchors:
            owners.setdefault(anchor, []).append(reader)
    # Grouped by first byte (one branch per byte, then that byte's anchors longest first, so an anchor that
    # contains another still names its own readers): the engine tries one group at a candidate position
    # instead of every anchor. It skips positions whose byte cannot start an anchor, so anchors start with
    # rare bytes (upper case, punctuation): a lower-case first letter would make most positions candidates.
    groups: dict[bytes, list[bytes]] = {}
    for anchor in owners:
        groups.setdefault(anchor[:1], []).append(anchor[1:])
    pattern = b"|".join(re.escape(first) + b"(?:" + b"|".join(re.escape(rest) for rest in
                                                             sorted(rests, key=len, reverse=True)) + b")"
                        for first, rests in sorted(groups.items()))
    return re.compile(pattern), owners


def scan(path: str, block: int = CHUNK) -> ScanResult:
    """Scan one log (a path, or '-' for stdin; gzip detected by magic). Raises InputError.
    ``block`` is the read size; results do not depend on it (tested)."""
    name = display_name(path)
    readers = make_readers()
    open_set: set[Reader] = set()       # readers with an open record
    for reader in readers:
        reader.open_set = open_set
    qemu = readers[-1]
    assert isinstance(qemu, QemuTraceReader)
    anchors, owners = _anchor_regex(readers)
    banners = frozenset(BANNER_ANCHORS)
    segmenter = Segmenter()
    rv_fast = b"_cpu_do_interrupt"
    number = 0                      # line number of the first line of the current chunk, minus 1

    def dispatch(raw: bytes, lineno: int) -> bool:
        """Hand one line to its readers; True when a reader may have opened a record."""
        if len(raw) > MAX_LINE:
            raw = raw[:MAX_LINE]
        if len(raw) > MAX_DIGITS:
            # No register or address has 1000 digits; cutting the line before such a run keeps
            # int() within Python's digit limit (a ValueError deep in a reader) and costs nothing
            # on normal lines.
            absurd = _ABSURD_NUMBER.search(raw)
            if absurd:
                raw = raw[:absurd.start()]
        if rv_fast in raw and qemu.feed_raw(raw, name, lineno):
            return False
        found = set(anchors.findall(raw))
        targets = [r for a in found for r in owners[a]]
        banner = not found.isdisjoint(banners)
        if not targets and not open_set and not banner:
            return False
        decoded = raw.decode("utf-8", "replace")
        line = LogLine(name, lineno, clean(decoded), strip_ansi(decoded.rstrip("\r")))
        if segmenter.before(line.raw, line.text, lineno, banner):
            for reader in readers:
                reader.boundary()
        was_open = set(open_set)
        for reader in readers:
            if reader.active or reader in targets:
                reader.feed(line)
        # A record that opened on this line is another program's crash: end the others' open records.
        if not open_set <= was_open:
            for reader in readers:
                if reader in was_open and reader.active and reader.interruptible:
                    reader.interrupt()
        return True

    for chunk in iter_chunks(path, block):
        # Line bookkeeping: `counted` is a chunk offset at a line start, `line_at` its number.
        counted, line_at = 0, number + 1
        pos = 0                     # everything before pos has been handled
        end = len(chunk)
        opened = bool(open_set)     # a record left open by the previous chunk
        while True:
            # Inside a multi-line record every following line goes to the open reader(s).
            while opened and pos < end and open_set:
                le = chunk.find(b"\n", pos)
                if le < 0:
                    le = end
                dispatch(chunk[pos:le], line_at)
                pos = le + 1
                counted, line_at = pos, line_at + 1
            m = anchors.search(chunk, pos)
            if m is None:
                break
            ls = chunk.rfind(b"\n", 0, m.start()) + 1
            line_at += chunk.count(b"\n", counted, ls)
            le = chunk.find(b"\n", m.start())
            if le < 0:
                le = end
            opened = dispatch(chunk[ls:le], line_at)
            pos = le + 1
            counted, line_at = pos, line_at + 1
        number += chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
    for reader in readers:
        reader.finish()
    stats = ScanStats(name, lines=number)
    stats.boundaries = list(segmenter.boundaries)
    stats.formats_seen = dict(segmenter.seen)
    for reader in readers:
        if reader.lines_seen:
            # one key per format; a banner line ("(XEN) Xen version") is also one of the reader's lines
            family = reader.family or reader.name
            stats.formats_seen[family] = max(stats.formats_seen.get(family, 0), reader.lines_seen)
    hv = readers[0]
    assert isinstance(hv, HvisorReader)
    stats.hvisor_records = hv.records
    stats.trace_records = qemu.records
    result = ScanResult(name, stats, readers={r.name: r for r in readers})
    for reader in readers:
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
