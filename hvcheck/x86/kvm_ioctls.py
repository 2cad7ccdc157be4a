"""KVM ioctl numbers: the generated table (data/kvm_ioctls.json, from <linux/kvm.h> by
scripts/gen_kvm_ioctls.py) joined with the fd-class knowledge of kvm_fd_classes.py, and the
generic _IOC decoder (x86 encoding: dir<<30 | size<<16 | type<<8 | nr)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hvcheck.x86.kvm_fd_classes import (
    CLASS_LABEL,
    CLASSES,
    SUPPLEMENT,
    UNKNOWN_ERRNO,
    X86,
    FdClasses,
    other_arch,
)

DATA = Path(__file__).resolve().parent / "data" / "kvm_ioctls.json"
KVMIO = 0xAE
_DIR = {0: "_IO", 1: "_IOW", 2: "_IOR", 3: "_IOWR"}


@dataclass(frozen=True)
class Ioctl:
    name: str
    value: int
    macro: str
    nr: int
    size: int
    type: str | None
    source: str                    # "header 6.1.187 (linux-libc-dev ...)" or "supplement"
    classes: FdClasses | None      # None: not an x86 ioctl
    arch: str | None = None        # the other architecture that implements it

    @property
    def low16(self) -> int:
        return self.value & 0xFFFF


@dataclass(frozen=True)
class GenericDecode:
    value: int
    macro: str
    type: int
    nr: int
    size: int

    def text(self) -> str:
        return (f"{self.value:#010x} = {self.macro}(type {self.type:#04x}{' (KVMIO)' if self.type == KVMIO else ''}, "
                f"nr {self.nr:#04x}, size {self.size})")


def generic_decode(value: int) -> GenericDecode:
    return GenericDecode(value, _DIR[value >> 30 & 3], value >> 8 & 0xFF, value & 0xFF, value >> 16 & 0x3FFF)


@lru_cache(maxsize=1)
def table() -> tuple[dict, list[Ioctl]]:
    doc = json.loads(DATA.read_text())
    source = f"<linux/kvm.h> {doc.get('linux_version')} ({doc.get('package') or doc.get('header')})"
    out = [Ioctl(r["name"], int(r["value"], 16), r["macro"], r["nr"], r["size"], r["type"], source,
                 X86.get(r["name"]), other_arch(r["name"])) for r in doc["ioctls"]]
    known = {i.name for i in out}
    for name, (value, macro, nr, size, typ) in SUPPLEMENT.items():
        if name not in known:
            out.append(Ioctl(name, value, macro, nr, size, typ, "supplement (newer than the generation header)",
                             X86.get(name)))
    return doc, out


@lru_cache(maxsize=1)
def by_name() -> dict[str, Ioctl]:
    return {i.name: i for i in table()[1]}


@lru_cache(maxsize=1)
def _indexes() -> tuple[dict[int, list[Ioctl]], dict[int, list[Ioctl]]]:
    """Rows by full value and by low 16 bits: a lookup is two dict reads, not a table scan
    (a 200k-line trace looks up every line)."""
    exact: dict[int, list[Ioctl]] = {}
    low: dict[int, list[Ioctl]] = {}
    for i in table()[1]:
        exact.setdefault(i.value, []).append(i)
        low.setdefault(i.low16, []).append(i)
    return exact, low


def capabilities() -> dict[str, int]:
    return table()[0]["capabilities"]


def header_info() -> str:
    doc = table()[0]
    return f"{doc.get('header')} {doc.get('linux_version')} ({doc.get('package')}), {doc.get('arch')}"


@dataclass
class Lookup:
    query: str
    value: int
    matches: list[Ioctl]     # exact 32-bit matches
    low16_only: list[Ioctl]  # ioctls whose low 16 bits equal a 16-bit query (other sizes/directions)
    generic: GenericDecode

    @property
    def known(self) -> bool:
        return bool(self.matches or self.low16_only)

    @property
    def ambiguous(self) -> bool:
        return len(self.matches) + len(self.low16_only) > 1


def lookup(value: int, query: str | None = None) -> Lookup:
    by_value, by_low16 = _indexes()
    exact = list(by_value.get(value, ()))
    low: list[Ioctl] = []
    if value <= 0xFFFF:
        low = [i for i in by_low16.get(value, ()) if i.value != value]
    # x86 entries first, then other architectures
    def x86_first(i: Ioctl) -> tuple[bool, str]:
        return (i.classes is None, i.name)

    return Lookup(query or f"{value:#x}", value, sorted(exact, key=x86_first), sorted(low, key=x86_first),
                  generic_decode(value))


def describe(i: Ioctl) -> list[str]:
    """Text lines: the decode and where the ioctl is accepted."""
    lines = [f"{i.name} = {i.value:#010x}  {i.macro}(KVMIO, {i.nr:#04x}"
             + (f", {i.type}" if i.type else "") + f")  size {i.size}  [{i.source}]"]
    if i.classes is None:
        lines.append(f"  not an x86 ioctl ({i.arch or 'another architecture'}); x86 KVM rejects it on every fd")
        return lines
    for cls in CLASSES:
        since = i.classes.since(cls)
        cap = i.classes.caps.get(cls)
        if since:
            ver = "the original API" if since == "basic" else f"Linux {since}"
            lines.append(f"  {CLASS_LABEL[cls]:<10} accepted since {ver}" + (f" ({cap})" if cap else ""))
        else:
            lines.append(f"  {CLASS_LABEL[cls]:<10} not on x86 (returns -{UNKNOWN_ERRNO[cls]})")
    if i.classes.removed:
        lines.append(f"  removed in Linux {i.classes.removed.lstrip('~')}")
    if i.classes.note:
        lines.append(f"  note: {i.classes.note}")
    if i.classes.approximate:
        lines.append("  (~ = approximate version, derived from the capability, not a tag lookup)")
    return lines


def to_json(i: Ioctl) -> dict:
    out: dict = {"name": i.name, "value": i.value, "macro": i.macro, "nr": i.nr, "size": i.size, "type": i.type,
                 "source": i.source, "x86": i.classes is not None}
    if i.classes is not None:
        out["fd_classes"] = {cls: i.classes.since(cls) for cls in CLASSES}
        out["capabilities"] = dict(i.classes.caps)
        if i.classes.removed:
            out["removed"] = i.classes.removed
    elif i.arch:
        out["arch"] = i.arch
    return out
