"""CPUID dumps: the model, three readers, and the consistency checks X003-X006.

Readers (all return :class:`CpuidDump`):
* ``cpuid -r`` raw output of Debian's cpuid tool (``CPU 0:`` blocks of
  ``   0x0000000d 0x00: eax=0x... ebx=0x... ecx=0x... edx=0x...``), one or many CPUs;
* a JSON leaf list: ``[{"leaf": "0xd", "subleaf": 0, "eax": "0x202e7", ...}, ...]`` (also
  ``function``/``index`` as in ``struct kvm_cpuid_entry2``, or ``{"leaves": [...]}`` /
  ``{"cpus": [[...], ...]}``);
* ``read_self_cpuid()``: this machine through /dev/cpu/N/cpuid (Linux cpuid driver).

Facts used by the checks: reference note x86-xsave-rules.md §5 (rules C1-C10) and DESIGN.md §4.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, field

from hvcheck.errors import InputError, LimitExceeded
from hvcheck.findings import Finding, Location, Severity, declare_rule
from hvcheck.textio import read_text
from hvcheck.x86 import xsave

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("X003", "CPUID leaf 0xD's XCR0 mask is itself invalid (the guest kernel will #GP on XSETBV)", Severity.ERROR, "x86")
declare_rule("X004", "CPUID feature flags disagree with XSAVE components", Severity.WARNING, "x86")
declare_rule("X005", "guest CPUID advertises a feature or XSAVE component the host does not", Severity.WARNING, "x86")
declare_rule("X006", "CPUs in one CPUID dump disagree on feature or XSAVE leaves", Severity.WARNING, "x86")

Regs = tuple[int, int, int, int]  # eax, ebx, ecx, edx
REG_NAMES = ("eax", "ebx", "ecx", "edx")
MAX_DUMP_BYTES = 16 << 20
MAX_CPUS = 4096


@dataclass
class CpuidDump:
    path: str
    fmt: str
    # cpu number -> {(leaf, subleaf): regs}
    cpus: dict[int, dict[tuple[int, int], Regs]] = field(default_factory=dict)
    # (cpu, leaf, subleaf) -> 1-based line in the file (raw dumps only)
    lines: dict[tuple[int, int, int], int] = field(default_factory=dict)

    @property
    def first_cpu(self) -> int:
        return min(self.cpus)

    def leaves(self, cpu: int | None = None) -> dict[tuple[int, int], Regs]:
        return self.cpus[self.first_cpu if cpu is None else cpu]

    def get(self, leaf: int, sub: int = 0, cpu: int | None = None) -> Regs | None:
        return self.leaves(cpu).get((leaf, sub))

    def reg(self, leaf: int, sub: int, name: str, cpu: int | None = None) -> int:
        """One register, 0 when the leaf is absent or beyond the maximum leaf (as CPUs behave for
        feature words; callers that must distinguish use :meth:`has_leaf`)."""
        regs = self.get(leaf, sub, cpu) if self.has_leaf(leaf, cpu) else None
        return 0 if regs is None else regs[REG_NAMES.index(name)]

    def max_basic(self, cpu: int | None = None) -> int:
        regs = self.get(0, 0, cpu)
        return regs[0] if regs else 0

    def has_leaf(self, leaf: int, cpu: int | None = None) -> bool:
        if leaf < 0x80000000 and leaf > self.max_basic(cpu):
            return False
        return any(k[0] == leaf for k in self.leaves(cpu))

    def xcr0_mask(self, cpu: int | None = None) -> int | None:
        """CPUID.(EAX=0DH,ECX=0):EDX:EAX, or None when the dump has no leaf 0xD."""
        if not self.has_leaf(0xD, cpu):
            return None
        regs = self.get(0xD, 0, cpu)
        return None if regs is None else regs[3] << 32 | regs[0]

    @property
    def xcr0_supported(self) -> int | None:
        """CPUID.(EAX=0DH,ECX=0):EDX:EAX of the first CPU (the attribute name crash triage reads)."""
        return self.xcr0_mask()

    def vendor(self) -> str:
        regs = self.get(0, 0)
        if regs is None:
            return "?"
        raw = struct.pack("<III", regs[1], regs[3], regs[2])
        return raw.decode("ascii", errors="replace").strip("\0")

    def location(self, leaf: int, sub: int = 0, cpu: int | None = None) -> Location:
        c = self.first_cpu if cpu is None else cpu
        line = self.lines.get((c, leaf, sub))
        cpu_note = f"CPU {c}, " if len(self.cpus) > 1 else ""
        return Location(self.path, line, detail=f"{cpu_note}CPUID.({leaf:#x},{sub:#x})")


# --------------------------------------------------------------------------------------------
# Readers

_RAW = re.compile(r"^\s*0x([0-9a-fA-F]{8})\s+0x([0-9a-fA-F]{2,8}):\s+eax=0x([0-9a-fA-F]{8})\s+"
                  r"ebx=0x([0-9a-fA-F]{8})\s+ecx=0x([0-9a-fA-F]{8})\s+edx=0x([0-9a-fA-F]{8})\s*$")
_CPU_HDR = re.compile(r"^\s*CPU(?:\s+(\d+))?:\s*$")


def _read_text(path: str) -> str:
    return read_text(path, MAX_DUMP_BYTES, "CPUID dumps", strict=False,
                     expected="`cpuid -r` text or a JSON leaf list")


def read_cpuid_dump(path: str | os.PathLike[str]) -> CpuidDump:
    """Read a `cpuid -r` dump or a JSON leaf list (detected from the first non-blank character)."""
    path = os.fspath(path)
    text = _read_text(path)
    stripped = text.lstrip()
    if not stripped:
        raise InputError(path, "empty file; expected `cpuid -r` output or a JSON leaf list")
    dump = _parse_json(path, text) if stripped[0] in "[{" else _parse_raw(path, text)
    _validate(dump)
    return dump


def _parse_raw(path: str, text: str) -> CpuidDump:
    dump = CpuidDump(path, "cpuid -r")
    cpu: int | None = None
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        hdr = _CPU_HDR.match(line)
        if hdr:
            cpu = int(hdr.group(1)) if hdr.group(1) else 0
            if cpu > MAX_CPUS:
                raise LimitExceeded(path, f"CPU number {cpu} above {MAX_CPUS}", line=no)
            if cpu in dump.cpus:
                raise InputError(path, f"CPU {cpu} appears twice", line=no)
            dump.cpus[cpu] = {}
            continue
        m = _RAW.match(line)
        if not m:
            if re.match(r"^\s*0x[0-9a-fA-F]", line):
                raise InputError(path, "truncated or malformed CPUID line (want `0xLEAF 0xSUB: eax=0x... "
                                       "ebx=0x... ecx=0x... edx=0x...`)", line=no)
            raise InputError(path, f"not `cpuid -r` output: {line.strip()[:60]!r}", line=no)
        if cpu is None:  # old cpuid versions print no "CPU n:" header for a single CPU
            cpu = 0
            dump.cpus[0] = {}
        leaf, sub = int(m.group(1), 16), int(m.group(2), 16)
        regs = (int(m.group(3), 16), int(m.group(4), 16), int(m.group(5), 16), int(m.group(6), 16))
        leaves = dump.cpus[cpu]
        if (leaf, sub) in leaves and leaves[(leaf, sub)] != regs:
            raise InputError(path, f"CPUID.({leaf:#x},{sub:#x}) appears twice with different values", line=no)
        leaves[(leaf, sub)] = regs
        dump.lines[(cpu, leaf, sub)] = no
    if not dump.cpus or not any(dump.cpus.values()):
        raise InputError(path, "no CPUID leaves found (expected `cpuid -r` output)")
    empty = [c for c, leaves in dump.cpus.items() if not leaves]
    if empty:
        raise InputError(path, f"CPU {empty[0]} has no leaves: the dump is truncated")
    return dump


def _json_int(path: str, entry: dict, key: str, idx: int, default: int | None = None) -> int:
    from hvcheck.units import parse_int

    value = entry.get(key, default)
    if value is None:
        raise InputError(path, f"leaf entry #{idx}: missing {key!r}")
    try:
        n = value if isinstance(value, int) and not isinstance(value, bool) else parse_int(str(value))
    except ValueError:
        raise InputError(path, f"leaf entry #{idx}: {key} {value!r} is not a number") from None
    if not 0 <= n < 1 << 32:
        raise InputError(path, f"leaf entry #{idx}: {key} {value!r} is not a 32-bit value")
    return n


def _parse_json(path: str, text: str) -> CpuidDump:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply") from None
    except ValueError as exc:  # an integer of thousands of digits: int() refuses it
        raise InputError(path, f"invalid JSON: {exc}") from None
    if isinstance(doc, dict) and "cpus" in doc:
        cpu_lists = doc["cpus"]
        if not isinstance(cpu_lists, list):
            raise InputError(path, '"cpus" must be a list')
        cpu_lists = [c.get("leaves") if isinstance(c, dict) else c for c in cpu_lists]
    elif isinstance(doc, dict) and "leaves" in doc:
        cpu_lists = [doc["leaves"]]
    elif isinstance(doc, list):
        cpu_lists = [doc]
    else:
        raise InputError(path, 'expected a JSON list of leaves, or an object with "leaves" or "cpus"')
    dump = CpuidDump(path, "json")
    for cpu, entries in enumerate(cpu_lists[:MAX_CPUS]):
        if not isinstance(entries, list) or not entries:
            raise InputError(path, f"CPU {cpu}: expected a non-empty list of leaf entries")
        leaves: dict[tuple[int, int], Regs] = {}
        for idx, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise InputError(path, f"leaf entry #{idx}: expected an object")
            leaf = _json_int(path, entry, "leaf" if "leaf" in entry else "function", idx)
            sub_key = next((k for k in ("subleaf", "index", "sub") if k in entry), "subleaf")
            sub = _json_int(path, entry, sub_key, idx, default=0)
            regs = tuple(_json_int(path, entry, r, idx) for r in REG_NAMES)
            leaves[(leaf, sub)] = regs  # type: ignore[assignment]
        dump.cpus[cpu] = leaves
    return dump


def _validate(dump: CpuidDump) -> None:
    """Catch dumps cut short: every CPU needs leaf 0, and leaves its own enumeration promises."""
    for cpu, leaves in dump.cpus.items():
        where = f"CPU {cpu}: " if len(dump.cpus) > 1 else ""
        if (0, 0) not in leaves:
            raise InputError(dump.path, f"{where}no leaf 0x0 (vendor and maximum leaf): the dump is truncated "
                                        "or not a full CPUID dump")
        max_basic = leaves[(0, 0)][0]
        xsave_flag = (1, 0) in leaves and leaves[(1, 0)][2] >> 26 & 1
        if max_basic >= 1 and (1, 0) not in leaves:
            raise InputError(dump.path, f"{where}leaf 0x0 reports maximum basic leaf {max_basic:#x} but leaf 0x1 "
                                        "is missing: the dump is truncated")
        if xsave_flag and max_basic >= 0xD and (0xD, 0) not in leaves:
            raise InputError(dump.path, f"{where}leaf 0x0 reports maximum basic leaf {max_basic:#x} and XSAVE is "
                                        "set, but leaf 0xd is missing: the dump is truncated")
    sizes = {c: len(v) for c, v in dump.cpus.items()}
    first = dump.first_cpu
    last = max(dump.cpus)
    if len(dump.cpus) > 1 and sizes[last] < sizes[first] and not set(dump.cpus[last]) >= set(dump.cpus[first]):
        missing = sorted(set(dump.cpus[first]) - set(dump.cpus[last]))
        if missing and missing[0] <= max(dump.cpus[last]):
            return  # holes in the middle: a different CPU, not a cut; X006 reports it
        raise InputError(dump.path, f"CPU {last} stops at CPUID.({max(dump.cpus[last])[0]:#x}) while CPU {first} "
                                    f"has {sizes[first]} leaves: the dump is truncated")


def _self_leaf_list(read) -> list[tuple[int, int]]:
    """Which (leaf, subleaf) pairs to read, discovered from the CPU itself like `cpuid -r` does."""
    out: list[tuple[int, int]] = []
    max_basic = read(0, 0)[0]
    for leaf in range(0, min(max_basic, 0x3F) + 1):
        if leaf == 7:
            subs: range | list[int] = range(0, min(read(7, 0)[0], 8) + 1)
        elif leaf == 0xD:
            eax, _, _, edx = read(0xD, 0)
            _, _, ecx1, edx1 = read(0xD, 1)
            mask = (edx << 32 | eax) | (edx1 << 32 | ecx1)
            subs = [0, 1] + [i for i in range(2, 63) if mask >> i & 1]
        elif leaf in (4, 0xB, 0x1F):
            subs = range(0, 8)
        else:
            subs = range(0, 1)
        out.extend((leaf, s) for s in subs)
    max_ext = read(0x80000000, 0)[0]
    if 0x80000000 <= max_ext <= 0x800000FF:
        out.extend((leaf, 0) for leaf in range(0x80000000, max_ext + 1))
    return out


def read_self_cpuid() -> CpuidDump:
    """This machine's CPUID through the Linux cpuid driver, or an InputError saying why not."""
    base = "/dev/cpu"
    try:
        cpus = sorted(int(n) for n in os.listdir(base) if n.isdigit())
    except OSError:
        cpus = []
    if not cpus or not os.path.exists(f"{base}/{cpus[0]}/cpuid"):
        raise InputError(f"{base}/0/cpuid", "not present: load the cpuid driver (`modprobe cpuid`), or run "
                                           "`cpuid -r > host.txt` and pass the file")
    dump = CpuidDump("/dev/cpu/*/cpuid", "/dev/cpu")
    for cpu in cpus[:MAX_CPUS]:
        dev = f"{base}/{cpu}/cpuid"
        try:
            fd = os.open(dev, os.O_RDONLY)
        except PermissionError:
            raise InputError(dev, "permission denied: reading CPUID through the cpuid driver needs root "
                                  "(CAP_SYS_RAWIO); run as root or use `cpuid -r > host.txt`") from None
        except OSError as exc:
            raise InputError(dev, f"cannot open: {exc.strerror}") from None
        try:
            def read(leaf: int, sub: int, fd: int = fd, dev: str = dev) -> Regs:
                # The driver takes the leaf in the low 32 bits of the offset, the subleaf in the high.
                data = os.pread(fd, 16, sub << 32 | leaf)
                if len(data) != 16:
                    raise InputError(dev, f"short read for leaf {leaf:#x}")
                return struct.unpack("<4I", data)

            dump.cpus[cpu] = {key: read(*key) for key in _self_leaf_list(read)}
        except OSError as exc:
            raise InputError(dev, f"read failed: {exc.strerror}") from None
        finally:
            os.close(fd)
    return dump


# --------------------------------------------------------------------------------------------
# Checks

def _flag(dump: CpuidDump, leaf: int, sub: int, reg: str, bit: int, cpu: int | None = None) -> bool:
    return bool(dump.reg(leaf, sub, reg, cpu) >> bit & 1)


# (feature flag(s) — any one enables, XSAVE components it owns). QEMU x86_ext_save_areas[],
# Linux xsave_cpuid_features[] (reference note §5, rules C2, C4-C7).
_FLAG_COMPONENTS: list[tuple[list[tuple[int, int, str, int]], list[int]]] = [
    ([(1, 0, "ecx", 28)], [2]),
    ([(7, 0, "ebx", 14)], [3, 4]),
    ([(7, 0, "ebx", 16), (7, 1, "edx", 19)], [5, 6, 7]),
    ([(7, 0, "ecx", 3)], [9]),
    ([(7, 0, "edx", 24)], [17, 18]),
    ([(7, 1, "edx", 21)], [19]),
]
# AMX compute features are useless (and #UD) without the tile state (C2).
_NEEDS_AMX_TILE = [(7, 0, "edx", 22), (7, 0, "edx", 25), (7, 1, "eax", 21), (7, 1, "edx", 8)]


def _names(bits: list[int]) -> str:
    return ", ".join(f"{b} ({xsave.COMPONENTS[b].name})" for b in bits)


def cpuid_findings(dump: CpuidDump, host: CpuidDump | None = None) -> list[Finding]:
    """X003/X004 on each distinct CPU of the dump, X006 when CPUs disagree, X005 against ``host``."""
    groups = _cpu_groups(dump)
    findings: list[Finding] = []
    for cpus in groups:
        cpu = cpus[0]
        prefix = f"CPU {_cpu_list(cpus)}: " if len(groups) > 1 else ""
        for f in _x003(dump, cpu) + _x004(dump, cpu) + (_x005(dump, host, cpu) if host else []):
            f.message = prefix + f.message
            findings.append(f)
    findings.extend(_x006(dump, groups))
    return findings


def _x003(dump: CpuidDump, cpu: int) -> list[Finding]:
    mask = dump.xcr0_mask(cpu)
    if mask is None or not _flag(dump, 1, 0, "ecx", 26, cpu):
        return []
    viol = xsave.xcr0_violations(mask)
    if not viol:
        return []
    nearest = xsave.nearest_valid(mask)
    return [Finding(
        "X003",
        f"CPUID.(0DH,0):EDX:EAX = {mask:#x} ({xsave.bit_names(mask)}) is not a valid XCR0: "
        + "; ".join(e for _, e in viol)
        + ". A guest kernel writes this mask (minus features it lacks) to XCR0 at boot and takes #GP "
          "(Linux: fpu__init_cpu_xstate)",
        locations=[dump.location(0xD, 0, cpu)],
        data={"xcr0_mask": mask, "components": xsave.bit_names(mask), "violations": [r for r, _ in viol],
              "nearest_valid": nearest},
        fix=("enumerate " + " or ".join(xsave.describe_alternative(mask, n) for n in nearest)) if nearest else None,
    )]


def _x004(dump: CpuidDump, cpu: int) -> list[Finding]:
    from hvcheck.x86.cpuid_features import leaf_name

    out: list[Finding] = []
    loc0 = dump.location(0xD, 0, cpu)

    def add(msg: str, loc: Location, fix: str, **data: object) -> None:
        out.append(Finding("X004", msg, locations=[loc], data=dict(data), fix=fix))

    has_xsave = _flag(dump, 1, 0, "ecx", 26, cpu)
    mask = dump.xcr0_mask(cpu)
    if not has_xsave:
        if mask:
            add(f"CPUID.1:ECX[26] XSAVE is clear but leaf 0xD enumerates XCR0 components {mask:#x}",
                loc0, "zero leaf 0xD's XCR0 words when XSAVE is off (QEMU does)", xcr0_mask=mask)
        return out
    if mask is None:
        add("CPUID.1:ECX[26] XSAVE is set but the dump has no leaf 0xD", dump.location(1, 0, cpu),
            "provide leaf 0xD (and a maximum basic leaf >= 0xD)")
        return out
    for flags, comps in _FLAG_COMPONENTS:
        enabled = [f for f in flags if _flag(dump, *f, cpu=cpu)]
        present = [b for b in comps if mask >> b & 1]
        flag_txt = " / ".join(leaf_name(*f) for f in flags)
        if enabled and len(present) != len(comps):
            missing = [b for b in comps if b not in present]
            add(f"{leaf_name(*enabled[0])} is set but leaf 0xD ({mask:#x}) lacks XSAVE component(s) {_names(missing)}",
                loc0, "enumerate the components with the feature, or clear the feature",
                feature=leaf_name(*enabled[0]), missing_components=missing)
        elif not enabled and present:
            add(f"leaf 0xD ({mask:#x}) enumerates XSAVE component(s) {_names(present)} but {flag_txt} is clear",
                loc0, "clear the components, or set the feature", components=present)
    if not _flag(dump, 7, 0, "edx", 24, cpu):
        for f in _NEEDS_AMX_TILE:
            if _flag(dump, *f, cpu=cpu):
                add(f"{leaf_name(*f)} is set without CPUID.(7,0):EDX[24] AMX-TILE", dump.location(7, f[1], cpu),
                    "clear the AMX compute feature or expose AMX-TILE with XSAVE components 17 and 18")
    if mask >> 18 & 1 and not _flag(dump, 0xD, 1, "eax", 4, cpu):
        add("XSAVE component 18 (XTILEDATA) is dynamic but CPUID.(0DH,1):EAX[4] XFD is clear; Linux then drops "
            "XTILEDATA but keeps XTILECFG, writing an XCR0 with half the AMX pair", dump.location(0xD, 1, cpu),
            "expose XFD with AMX, or hide both AMX components")
    sup = dump.reg(0xD, 1, "edx", cpu) << 32 | dump.reg(0xD, 1, "ecx", cpu)
    if sup and not _flag(dump, 0xD, 1, "eax", 3, cpu):
        add(f"CPUID.(0DH,1):EDX:ECX enumerates IA32_XSS components {xsave.bit_names(sup)} but "
            "CPUID.(0DH,1):EAX[3] XSAVES is clear", dump.location(0xD, 1, cpu),
            "clear the supervisor components or expose XSAVES", xss_mask=sup)
    ends: list[int] = []
    for b in range(2, 64):
        if not mask >> b & 1:
            continue
        regs = dump.get(0xD, b, cpu)
        if regs is None:
            continue
        if regs[0] == 0:
            add(f"XSAVE component {b} ({xsave.bit_names(1 << b)}) is enumerated but CPUID.(0DH,{b}):EAX reports "
                "size 0", dump.location(0xD, b, cpu), "report the component's size and offset, or drop it")
        elif regs[1]:
            ends.append(regs[0] + regs[1])
    max_size = dump.reg(0xD, 0, "ecx", cpu)
    if ends and max_size < max(ends):
        add(f"CPUID.(0DH,0):ECX = {max_size} bytes is smaller than the end of the enumerated components "
            f"({max(ends)} bytes): XSAVE would write past the buffer the guest allocates", loc0,
            "report ECX = max(offset + size) over the enumerated components", ecx=max_size, end=max(ends))
    return out


def _x005(guest: CpuidDump, host: CpuidDump, cpu: int) -> list[Finding]:
    from hvcheck.x86.cpuid_features import EMULATED, FEATURE_WORDS, leaf_name

    out: list[Finding] = []
    hcpu = host.first_cpu
    for (leaf, sub, reg) in FEATURE_WORDS:
        if not guest.has_leaf(leaf, cpu):
            continue
        g = guest.reg(leaf, sub, reg, cpu)
        h = host.reg(leaf, sub, reg, hcpu)
        extra = [b for b in range(32) if g >> b & 1 and not h >> b & 1 and (leaf, sub, reg, b) not in EMULATED]
        if extra:
            names = ", ".join(leaf_name(leaf, sub, reg, b) for b in extra)
            out.append(Finding(
                "X005", f"guest sets {names}; the host does not",
                locations=[guest.location(leaf, sub, cpu), host.location(leaf, sub, hcpu)],
                data={"leaf": leaf, "subleaf": sub, "register": reg, "bits": extra, "guest": g, "host": h},
                fix="remove the feature from the guest CPU model or run on a host that has it"))
    gmask, hmask = guest.xcr0_mask(cpu), host.xcr0_mask(hcpu)
    if gmask is not None:
        extra_mask = gmask & ~(hmask or 0)
        if extra_mask:
            out.append(Finding(
                "X005", f"guest leaf 0xD enumerates XSAVE component(s) {xsave.bit_names(extra_mask)} "
                        f"({extra_mask:#x}) the host does not ({0 if hmask is None else hmask:#x})",
                locations=[guest.location(0xD, 0, cpu), host.location(0xD, 0, hcpu)],
                data={"guest_mask": gmask, "host_mask": hmask or 0, "extra": extra_mask},
                fix="drop the components from the guest's leaf 0xD"))
        for b in range(2, 64):
            if not (gmask >> b & 1 and (hmask or 0) >> b & 1):
                continue
            gr, hr = guest.get(0xD, b, cpu), host.get(0xD, b, hcpu)
            if gr is None or hr is None or gr[:2] == hr[:2]:
                continue
            out.append(Finding(
                "X005", f"XSAVE component {b} ({xsave.bit_names(1 << b)}): guest reports size {gr[0]} at offset "
                        f"{gr[1]}, host {hr[0]} at {hr[1]}; KVM saves guest state with the host's layout",
                locations=[guest.location(0xD, b, cpu), host.location(0xD, b, hcpu)],
                data={"component": b, "guest_size": gr[0], "guest_offset": gr[1], "host_size": hr[0],
                      "host_offset": hr[1]},
                fix="take leaf 0xD sub-leaf sizes and offsets from the host (KVM_GET_SUPPORTED_CPUID)"))
    return out


# Registers compared between CPUs of one dump, with the per-CPU fields masked out.
def _significant(leaves: dict[tuple[int, int], Regs]) -> dict[tuple[int, int, int], int]:
    out: dict[tuple[int, int, int], int] = {}
    for (leaf, sub), regs in leaves.items():
        if leaf not in (1, 7, 0xD, 0x80000001):
            continue
        for i, value in enumerate(regs):
            if leaf == 1 and i == 1:
                value &= 0x00FFFFFF  # EBX[31:24] is the initial APIC ID
            if leaf == 0xD and sub == 0 and i == 1:
                continue  # EBX: size for the XCR0 currently enabled on that CPU (OS state)
            if leaf == 1 and i == 2:
                value &= ~(1 << 27)  # OSXSAVE mirrors CR4 of that CPU
            out[(leaf, sub, i)] = value
    return out


def _cpu_groups(dump: CpuidDump) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for cpu in sorted(dump.cpus):
        key = tuple(sorted(_significant(dump.cpus[cpu]).items()))
        groups.setdefault(key, []).append(cpu)
    return sorted(groups.values(), key=lambda g: g[0])


def _cpu_list(cpus: list[int]) -> str:
    if len(cpus) > 2 and cpus[-1] - cpus[0] == len(cpus) - 1:
        return f"{cpus[0]}-{cpus[-1]}"
    return ",".join(str(c) for c in cpus)


def _x006(dump: CpuidDump, groups: list[list[int]]) -> list[Finding]:
    if len(groups) < 2:
        return []
    ref = groups[0][0]
    ref_sig = _significant(dump.cpus[ref])
    out = []
    for group in groups[1:]:
        cpu = group[0]
        sig = _significant(dump.cpus[cpu])
        diffs = sorted(k for k in set(ref_sig) | set(sig) if ref_sig.get(k) != sig.get(k))
        shown = []
        for leaf, sub, i in diffs[:4]:
            a, b = ref_sig.get((leaf, sub, i)), sig.get((leaf, sub, i))
            fa = "absent" if a is None else f"{a:#x}"
            fb = "absent" if b is None else f"{b:#x}"
            shown.append(f"CPUID.({leaf:#x},{sub}).{REG_NAMES[i].upper()} {fb} vs {fa}")
        more = f" and {len(diffs) - 4} more" if len(diffs) > 4 else ""
        leaf, sub, _ = diffs[0]
        out.append(Finding(
            "X006", f"CPU {_cpu_list(group)} differ(s) from CPU {_cpu_list(groups[0])}: " + "; ".join(shown) + more,
            locations=[dump.location(leaf, sub, cpu), dump.location(leaf, sub, ref)],
            data={"cpus": group, "reference_cpus": groups[0], "differences": len(diffs)},
            fix="give every vCPU the same CPUID entries (KVM_SET_CPUID2)"))
    return out
