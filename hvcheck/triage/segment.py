"""Crash boundaries in a console capture: where one boot or one crash ends and the next begins.

A serial console captured over hours holds many crashes. Facts must never cross from one to the next
(a pc, a process name, a cell name, an "unhandled MMIO" that a later panic would be attached to).
The scanner asks this module, for every line it decodes, whether a new segment starts there:

- a boot or hypervisor banner (Linux, OpenSBI, RustSBI, U-Boot, Xen, Jailhouse, Bao, ACRN, hvisor,
  the seL4 loaders): everything before it belongs to an earlier boot;
- dmesg timestamps going backwards by more than a second (printk on several CPUs may be a little out of
  order; a reboot goes back to zero).

Within a segment each reader still ends its own records at their end markers (``---[ end trace``, the
closing brace of a pretty-printed struct, "Parking CPU") and at the next header of its format.

Only decoded lines are looked at (the anchors below make sure banners are decoded), so the check costs
nothing on the bulk of a log.
"""

from __future__ import annotations

import re

BANNER_ANCHORS = (b"Linux version ", b"Booting Linux on", b"OpenSBI v", b"U-Boot 20", b"Xen version", b"Xen-4",
                  b"Initializing Jailhouse", b"Bao Hypervisor", b"ACRN Hypervisor", b"RustSBI version",
                  b"ELF-loader started", b"LDR|INFO", b"HVISOR")
_BANNER = re.compile(
    r"Linux version \d|Booting Linux on physical CPU|OpenSBI v\d|^U-Boot 20\d\d|\(XEN\) Xen version \d"
    r"|Initializing Jailhouse hypervisor|^Bao Hypervisor|^ACRN Hypervisor|RustSBI version \d|ELF-loader started"
    r"|loader for seL4 starting|Hello, start HVISOR")
FAMILIES = (("Linux", "Linux kernel"), ("OpenSBI", "OpenSBI"), ("U-Boot", "U-Boot"), ("XEN", "Xen"),
            ("Jailhouse", "Jailhouse"), ("Bao", "Bao"), ("ACRN", "ACRN"), ("RustSBI", "RustSBI"),
            ("ELF-loader", "seL4"), ("seL4", "seL4"), ("HVISOR", "hvisor"))
# dmesg time, also behind a syslog/journald prefix ("Jun 09 11:11:21 host kernel: [   12.345678]")
_STAMP = re.compile(r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [\w.@/-]+(?:\[\d+\])?: )?\s*(?:<\d{1,2}>)?"
                    r"\[\s*(\d{1,10})\.(\d{1,9})\]")
BACKWARDS = 1.0        # seconds a timestamp may go back before it counts as a new boot


class Segmenter:
    def __init__(self) -> None:
        self.segment = 0
        self._last_stamp: float | None = None
        self.boundaries: list[tuple[int, str]] = []     # (line, why) for the report
        self.seen: dict[str, int] = {}                   # banners by family: what the log looks like

    def before(self, raw: str, cleaned: str, lineno: int, banner: bool = True) -> str | None:
        """Why a new segment starts at this line (before it is read), or None. ``banner`` False: the
        scanner found none of BANNER_ANCHORS in the line, so the banner search is skipped."""
        why = None
        m = _BANNER.search(cleaned) if banner else None
        if m:
            why = f"banner '{m.group(0)}'"
            family = next((name for needle, name in FAMILIES if needle in m.group(0)), m.group(0))
            self.seen[family] = self.seen.get(family, 0) + 1
        stamp = _STAMP.match(raw)
        if stamp:
            value = int(stamp.group(1)) + int(stamp.group(2)) / 10 ** len(stamp.group(2))
            if self._last_stamp is not None and value < self._last_stamp - BACKWARDS and why is None:
                why = f"timestamps go back from {self._last_stamp:.6f} to {value:.6f}"
            self._last_stamp = value
        if why is not None:
            self._new(lineno, why)
            if not stamp:
                self._last_stamp = None
        return why

    def _new(self, lineno: int, why: str) -> None:
        self.segment += 1
        if len(self.boundaries) < 64:
            self.boundaries.append((lineno, why))
