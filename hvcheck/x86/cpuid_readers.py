"""CPUID readers, each returning a :class:`hvcheck.x86.cpuid_dump.CpuidDump`:

* ``cpuid -r`` raw output of Debian's cpuid tool (``CPU 0:`` blocks of
  ``   0x0000000d 0x00: eax=0x... ebx=0x... ecx=0x... edx=0x...``), one or many CPUs;
* a JSON leaf list: ``[{"leaf": "0xd", "subleaf": 0, "eax": "0x202e7", ...}, ...]`` (also
  ``function``/``index`` as in ``struct kvm_cpuid_entry2``, or ``{"leaves": [...]}`` /
  ``{"cpus": [[...], ...]}``);
* ``read_self_cpuid()``: this machine through /dev/cpu/N/cpuid (Linux cpuid driver).
"""

from __future__ import annotations

import json
import os
import re
import struct

from hvcheck.errors import InputError, LimitExceeded
from hvcheck.textio import read_text
from hvcheck.units import int_of
from hvcheck.x86.cpuid_dump import REG_NAMES, CpuidDump, Regs

MAX_DUMP_BYTES = 16 << 20
MAX_CPUS = 4096


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
            try:
                cpu = int_of(hdr.group(1) or "0", 10)
            except ValueError as exc:  # a digit string no real dump has (int() refuses 4,300+ digits)
                raise LimitExceeded(path, f"CPU number ({exc}) above {MAX_CPUS}", line=no) from None
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
