"""CPUID consistency checks X003-X006 over :class:`hvcheck.x86.cpuid_dump.CpuidDump`.

Facts used by the checks: reference note x86-xsave-rules.md §5 (rules C1-C10) and DESIGN.md §4.
"""

from __future__ import annotations

from hvcheck.findings import Finding, Location, Severity, declare_rule
from hvcheck.x86 import xsave
from hvcheck.x86.cpuid_dump import REG_NAMES, CpuidDump, Regs

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("X003", "CPUID leaf 0xD's XCR0 mask is itself invalid (the guest kernel will #GP on XSETBV)", Severity.ERROR, "x86")
declare_rule("X004", "CPUID feature flags disagree with XSAVE components", Severity.WARNING, "x86")
declare_rule("X005", "guest CPUID advertises a feature or XSAVE component the host does not", Severity.WARNING, "x86")
declare_rule("X006", "CPUs in one CPUID dump disagree on feature or XSAVE leaves", Severity.WARNING, "x86")


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
