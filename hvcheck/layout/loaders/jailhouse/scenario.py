"""Which Jailhouse cells run together, and which cells go with which system config.

Jailhouse has neither, so hvcheck reads them from ``--together A,B[,C]`` (repeatable) or a small
scenario file (``--scenario FILE``), one statement per line, ``#`` comments::

    # cells that run at the same time (names or file stems); "SYSTEM:" limits a line to one set
    together qemu-arm64: qemu-arm64-inmate-demo, qemu-arm64-linux-demo
    # for --all: cells that go with a system config (file stems), beyond the name-prefix rule
    pair qemu-x86: apic-demo ioapic-demo tiny-demo
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.inputs import read_capped
from hvcheck.textio import decode_text

MAX_SCENARIO_BYTES = 1 << 20
MAX_SCENARIO_NAMES = 4096   # names in one scenario file (cells per together/pair line, summed)

_NAME = re.compile(r"^[A-Za-z0-9_.+@/-][A-Za-z0-9_.+@/ -]*$")


@dataclass
class ScenarioFile:
    together: list[tuple[str | None, list[str], Location]] = field(default_factory=list)
    pairs: dict[str, list[tuple[str, Location]]] = field(default_factory=dict)


def parse_together(values: tuple[str, ...] | None) -> list[tuple[str | None, list[str], Location]]:
    out: list[tuple[str | None, list[str], Location]] = []
    for value in values or ():
        names = [n.strip() for n in value.split(",") if n.strip()]
        if len(names) < 2:
            raise InputError(None, f"--together {value!r}: name at least two cells, separated by commas")
        out.append((None, names, Location(None, detail=f"--together {value}")))
    return out


def read_scenario(path: Path) -> ScenarioFile:
    text = decode_text(read_capped(path, MAX_SCENARIO_BYTES, "a scenario file"), str(path))
    out = ScenarioFile()
    count = 0
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        keyword, _, rest = line.partition(" ")
        src = Location(str(path), number)
        system: str | None = None
        head, colon, tail = rest.partition(":")
        if colon:
            system, rest = head.strip(), tail
            if not system or not _NAME.match(system):
                raise InputError(str(path), f"bad system name {system!r}", number)
        if keyword == "together":
            names = [n.strip() for n in rest.split(",") if n.strip()]
            if len(names) < 2:
                raise InputError(str(path), "'together' names at least two cells, separated by commas", number)
        elif keyword == "pair":
            if system is None:
                raise InputError(str(path), "'pair SYSTEM: CELL ...' needs the system config's name and a colon",
                                 number)
            names = rest.split()
            if not names:
                raise InputError(str(path), "'pair' names no cell", number)
        else:
            raise InputError(str(path), f"unknown statement {keyword!r} (expected 'together' or 'pair')", number)
        for n in names:
            if not _NAME.match(n):
                raise InputError(str(path), f"bad cell name {n!r}", number)
        count += len(names)
        if count > MAX_SCENARIO_NAMES:
            raise InputError(str(path), f"more than {MAX_SCENARIO_NAMES} names (limit, `hvcheck docs limits`)", number)
        if keyword == "together":
            out.together.append((system, names, src))
        else:
            assert system is not None
            out.pairs.setdefault(system, []).extend((n, src) for n in names)
    return out
