"""The interface every log reader implements, and helpers they share."""

from __future__ import annotations

from typing import Any

from hvcheck.triage.facts import Evidence, Fault
from hvcheck.triage.source import LogLine

MAX_FAULTS = 256    # distinct faults kept per reader and log; identical ones are counted
HEX = r"(?:0x)?[0-9a-fA-F]+"


def ev(line: LogLine) -> Evidence:
    return Evidence(line.path, line.number, line.raw)


def to_int(text: str | None) -> int | None:
    """'0x1f', '1f' (hex, as consoles print registers), '31' with 0x -> int; None on junk."""
    if text is None:
        return None
    t = text.strip().rstrip(",").replace("_", "")
    try:
        return int(t, 16) if not t.lower().startswith("0x") else int(t[2:], 16)
    except ValueError:
        return None


def to_dec(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip(), 10)
    except ValueError:
        return None


class Reader:
    """Feed it cleaned lines; it accumulates :class:`Fault` records.

    ``anchors`` are byte strings the scanner looks for (all readers' anchors in one pass); a
    reader only sees the lines containing one of its anchors, plus every line while ``active``
    is true (inside a multi-line record). Anchors should start with a rare character (upper
    case, punctuation): the scan's speed depends on it. Readers must never raise on any text.
    """

    name = "reader"
    family = ""           # the format's name as the boot-banner families spell it (segment.FAMILIES), if any
    anchors: tuple[bytes, ...] = ()
    # A record of this reader ends when another reader's crash report starts (False for formats whose
    # records interleave with other output by design: hvisor's logger, per-hart firmware dumps, traces).
    interruptible = True

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        # the readers with an open record; the scanner shares one set among all its readers
        self.open_set: set[Reader] = set()
        self._active = False
        self.dropped = 0
        self.lines_seen = 0           # lines of this format read (for an honest "unknown")
        self._by_key: dict[Any, Fault] = {}

    @property
    def active(self) -> bool:
        """Inside a multi-line record: the reader is fed every line until it closes it."""
        return self._active

    @active.setter
    def active(self, value: bool) -> None:
        self._active = value
        if value:
            self.open_set.add(self)
        else:
            self.open_set.discard(self)

    def feed(self, line: LogLine) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def finish(self) -> None:
        """End of log: close any open record (marked truncated)."""

    def interrupt(self) -> None:
        """Another program's crash report starts: close the open record (facts must not cross into it)."""
        self.finish() if self.active else None

    def boundary(self) -> None:
        """A new boot or crash starts (hvcheck.triage.segment): close open records and forget every
        association a later line could make with an earlier one (last fault, pending cell name, ...)."""

    def emit(self, fault: Fault, key: Any = None) -> Fault:
        """Keep a fault; one identical to an earlier one (same key) only bumps its count."""
        if key is not None:
            seen = self._by_key.get(key)
            if seen is not None:
                seen.count += fault.count
                return seen
        if len(self.faults) >= MAX_FAULTS:
            self.dropped += 1
            return fault
        self.faults.append(fault)
        if key is not None:
            self._by_key[key] = fault
        return fault


class BlockReader(Reader):
    """A reader whose record is one block of at most ``max_lines`` lines, opened by a header line
    and completed when the block ends, another record starts, or the boot/log ends (EDK2, ACRN and
    seL4 dumps). Subclasses open with :meth:`_open` and turn the gathered lines into facts in
    :meth:`_complete`."""

    max_lines = 40

    def __init__(self) -> None:
        super().__init__()
        self._cur: Fault | None = None
        self._left = 0

    def boundary(self) -> None:
        self._close()

    def finish(self) -> None:
        self._close()

    def _open(self, line: LogLine, fault: Fault) -> Fault:
        self._close()
        fault.cite(ev(line))
        self._cur, self._left = fault, self.max_lines
        self.active = True
        return fault

    def _close(self) -> None:
        f, self._cur = self._cur, None
        self.active = False
        if f is not None:
            self._complete(f)

    def _complete(self, fault: Fault) -> None:  # pragma: no cover - overridden
        raise NotImplementedError
