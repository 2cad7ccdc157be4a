"""ACRN hypervisor console reader (projectacrn/acrn-hypervisor hypervisor/debug/dump.c, logmsg.c).

Lines may carry ACRN's log prefix ``[2361017us][cpu=0][(null)][sev=2][seq=6]:``. A fatal error is

- ``Assertion failed in file acpi_parser/dmar_parse.c,line 120 : fatal error``, or
- ``= Unhandled exception: 14 (Page Fault)`` followed by ``Host Registers:``, ``=  Vector=0x.. RIP=0x..``,
  register triples ``RAX=0x..`` and ``ERRCODE=0x..  CS=0x..``;

then ``Host Stack: CPU_ID = n`` and ``addr(0x..)`` stack words. ACRN runs on x86-64 only.
"""

from __future__ import annotations

import re

from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import BlockReader, ev
from hvcheck.triage.source import LogLine

MAX_BLOCK_LINES = 60
_PREFIX = re.compile(r"^\[(\d{1,14})us\]\[cpu=(\d{1,4})\](?:\[[^\]]{0,32}\])?\[sev=\d{1,2}\]\[seq=\d{1,10}\]:\s?")
_ASSERT = re.compile(r"Assertion failed in file (\S+),line (\d{1,7})")
_EXC = re.compile(r"Unhandled exception: (\d{1,3}) \(([^)]*)\)")
_PAIR = re.compile(r"\b([A-Z][A-Z0-9]{1,6})=0x([0-9A-Fa-f]{1,16})\b")
_STACK = re.compile(r"Host Stack: CPU_ID = (\d{1,4})")


class AcrnReader(BlockReader):
    name = "acrn"
    anchors = (b"Assertion failed in file", b"Unhandled exception:", b"Host Stack", b"RIP=0x", b"ERRCODE=")

    max_lines = MAX_BLOCK_LINES

    def feed(self, line: LogLine) -> None:
        text = line.text.strip()
        cpu = None
        p = _PREFIX.match(text)
        if p:
            cpu = int(p.group(2))
            text = text[p.end():].strip()
        text = text.lstrip("= ").strip()
        m = _ASSERT.search(text)
        if m:
            new = self._start(line, "acrn-assertion", f"ACRN assertion failed at {m.group(1)}:{m.group(2)}", cpu)
            new.facts["assertion"] = f"{m.group(1)}:{m.group(2)}"
            return
        m = _EXC.search(text)
        if m:
            new = self._start(line, "acrn-exception", f"ACRN unhandled exception {m.group(1)} ({m.group(2)})", cpu)
            new.facts.update(vector=int(m.group(1)), exception=m.group(2))
            return
        f = self._cur
        if f is None:
            return
        self._left -= 1
        m = _STACK.search(text)
        if m:
            f.cpu = int(m.group(1)) if f.cpu is None else f.cpu
            f.cite(ev(line))
            self._close()
            return
        pairs = _PAIR.findall(text)
        for name, value in pairs:
            f.registers[name] = int(value, 16)
        if any(n in ("RIP", "ERRCODE", "Vector") for n, _ in pairs):
            f.cite(ev(line))
        if self._left <= 0:
            self._close()

    def _start(self, line: LogLine, kind: str, summary: str, cpu: int | None) -> Fault:
        return self._open(line, Fault(kind, self.name, "x86_64", summary, line.path, cpu=cpu,
                                      facts={"arch_evidence": ["ACRN (runs on x86-64 only)"]}))

    def _complete(self, f: Fault) -> None:
        if "RIP" in f.registers:
            f.addresses["pc"] = Address(f.registers["RIP"], "PC", "RIP (hypervisor)")
        if "ERRCODE" in f.registers:
            f.facts["error_code"] = f.registers["ERRCODE"]
        self.emit(f, key=(f.kind, f.facts.get("assertion"), f.addresses.get("pc")))
