"""XSAVE state components and the rules an XCR0 value must obey (X001, X002).

Sources (DESIGN.md §4; /work/shared/reference/x86-xsave-rules.md): Intel SDM Vol.1 §13.1-13.3
(state components, per-group XSETBV #GP rules), Vol.2 "XSETBV", Vol.3A §2.6 (XCR0, bit 63
reserved), and Linux ``__kvm_set_xcr()`` which enforces the same rules for KVM guests.

This module imports only the standard library and ``hvcheck.findings``: ``hvcheck xcr0`` must start
in well under 100 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

from hvcheck.findings import Finding, Location, Severity, declare_rule

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("X001", "XCR0 value violates an architectural rule", Severity.ERROR, "x86")
declare_rule("X002", "XCR0 sets a bit not enumerated in CPUID leaf 0xD", Severity.ERROR, "x86")

U64 = (1 << 64) - 1


@dataclass(frozen=True)
class Component:
    bit: int
    name: str          # short name used in messages
    linux: str         # Linux `enum xfeature` name
    kind: str          # "user" (XCR0) or "supervisor" (IA32_XSS only)
    size: int | None   # architectural size in bytes (None: CPU-reported / varies)
    feature: str       # CPUID feature that enables it
    note: str = ""
    offset: int | None = None  # typical Intel standard-format offset (CPUID.(0DH,i):EBX) [reference §4]


# Sizes: QEMU QEMU_BUILD_BUG_ON list / Linux check_xstate_against_struct() (reference note §4).
# x87 and SSE live in the 512-byte legacy region (160 and 256 bytes of it).
COMPONENTS: dict[int, Component] = {c.bit: c for c in (
    Component(0, "x87", "XFEATURE_FP", "user", 160, "CPUID.1:EDX[0] FPU", "legacy region bytes 0-159"),
    Component(1, "SSE", "XFEATURE_SSE", "user", 256, "CPUID.1:EDX[25] SSE", "legacy region bytes 160-415"),
    Component(2, "AVX", "XFEATURE_YMM", "user", 256, "CPUID.1:ECX[28] AVX", offset=576),
    Component(3, "BNDREGS", "XFEATURE_BNDREGS", "user", 64, "CPUID.(7,0):EBX[14] MPX", offset=960),
    Component(4, "BNDCSR", "XFEATURE_BNDCSR", "user", 64, "CPUID.(7,0):EBX[14] MPX", offset=1024),
    Component(5, "opmask", "XFEATURE_OPMASK", "user", 64, "CPUID.(7,0):EBX[16] AVX512F", offset=1088),
    Component(6, "ZMM_Hi256", "XFEATURE_ZMM_Hi256", "user", 512, "CPUID.(7,0):EBX[16] AVX512F", offset=1152),
    Component(7, "Hi16_ZMM", "XFEATURE_Hi16_ZMM", "user", 1024, "CPUID.(7,0):EBX[16] AVX512F", offset=1664),
    Component(8, "PT", "XFEATURE_PT_UNIMPLEMENTED_SO_FAR", "supervisor", None, "CPUID.(7,0):EBX[25] INTEL_PT"),
    Component(9, "PKRU", "XFEATURE_PKRU", "user", 8, "CPUID.(7,0):ECX[3] PKU", offset=2688),
    Component(10, "PASID", "XFEATURE_PASID", "supervisor", 8, "CPUID.(7,0):ECX[29] ENQCMD"),
    Component(11, "CET_U", "XFEATURE_CET_USER", "supervisor", 16, "CPUID.(7,0):ECX[7] CET_SS / EDX[20] CET_IBT"),
    Component(12, "CET_S", "XFEATURE_CET_KERNEL", "supervisor", 24, "CPUID.(7,0):ECX[7] CET_SS"),
    Component(13, "HDC", "XFEATURE_RSRVD_COMP_13", "supervisor", None, "CPUID.6:EAX[13] HDC"),
    Component(14, "UINTR", "XFEATURE_RSRVD_COMP_14", "supervisor", None, "CPUID.(7,0):EDX[5] UINTR"),
    Component(15, "LBR", "XFEATURE_LBR", "supervisor", 808, "CPUID.(7,0):EDX[19] ARCH_LBR"),
    Component(16, "HWP", "XFEATURE_RSRVD_COMP_16", "supervisor", None, "CPUID.6:EAX[7] HWP"),
    Component(17, "XTILECFG", "XFEATURE_XTILE_CFG", "user", 64, "CPUID.(7,0):EDX[24] AMX-TILE", offset=2752),
    Component(18, "XTILEDATA", "XFEATURE_XTILE_DATA", "user", 8192, "CPUID.(7,0):EDX[24] AMX-TILE",
              "dynamic: needs XFD and arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM)", offset=2816),
    Component(19, "APX", "XFEATURE_APX", "user", 128, "CPUID.(7,1):EDX[21] APX_F",
              "reuses the MPX offset in the standard layout", offset=960),
    Component(62, "LWP", "-", "user", None, "CPUID.80000001H:ECX[15] LWP (AMD family 15h)"),
)}

LWP_BIT = 62  # AMD Lightweight Profiling: a state component only on AMD family 15h
KVM_SUPPORTED_XCR0 = 0x602FF  # Linux 5.17+: FP|SSE|YMM|BNDREGS|BNDCSR|AVX512|PKRU|XTILE (reference note R7)
SUPERVISOR_BITS = frozenset(b for b, c in COMPONENTS.items() if c.kind == "supervisor")
USER_BITS = frozenset(b for b, c in COMPONENTS.items() if c.kind == "user")
# Every bit that is no state component at all: 20-61 and 63 (SDM Vol.3A §2.6: "Bit 63 of XCR0 is
# reserved for future expansion"; Vol.1 §13.1: bit 63 never names a state component).
RESERVED_MASK = U64 & ~sum(1 << b for b in COMPONENTS)
SUPERVISOR_MASK = sum(1 << b for b in SUPERVISOR_BITS)

MPX = (1 << 3) | (1 << 4)
AVX512 = (1 << 5) | (1 << 6) | (1 << 7)
AMX = (1 << 17) | (1 << 18)
SSE_AVX = (1 << 1) | (1 << 2)
APX = 1 << 19


def bit_names(value: int) -> str:
    """0x202e7 -> 'x87|SSE|AVX|opmask|ZMM_Hi256|Hi16_ZMM|PKRU|XTILECFG'."""
    names = []
    for b in range(64):
        if value >> b & 1:
            names.append(COMPONENTS[b].name if b in COMPONENTS else f"bit{b}")
    return "|".join(names) if names else "(none)"


def _bits(mask: int) -> list[int]:
    return [b for b in range(64) if mask >> b & 1]


def _bit_list(mask: int) -> str:
    return ", ".join(f"{b} ({COMPONENTS[b].name})" if b in COMPONENTS else str(b) for b in _bits(mask))


def xcr0_violations(value: int, supported: int | None = None) -> list[tuple[str, str]]:
    """Every architectural rule the XCR0 value breaks: (short rule name, explanation + SDM ref).

    An empty list means XSETBV(ECX=0) would accept the value on a CPU that enumerates all its
    bits (X002 covers enumeration). Order follows KVM's ``__kvm_set_xcr()`` where it overlaps.

    Bit 62 (AMD LWP) names a state component only on AMD family 15h and is reserved on every
    other CPU: without a CPUID mask (``supported``) it is a violation ("lwp"); with one, the
    mask decides (X002 reports it when the mask does not enumerate it).
    """
    if value < 0 or value > U64:
        raise ValueError(f"XCR0 is a 64-bit register; {value:#x} does not fit")
    out: list[tuple[str, str]] = []
    if not value & 1:
        out.append(("x87", "bit 0 (x87) is clear; it must always be 1 "
                           "(SDM Vol.2 XSETBV, Vol.3A §2.6: #GP if XCR0[0] is cleared)"))
    if value & (1 << 2) and not value & (1 << 1):
        out.append(("avx-needs-sse", "bit 2 (AVX) is set without bit 1 (SSE); EAX[2:1]=10b "
                                     "(SDM Vol.2 XSETBV, Vol.1 §13.3)"))
    mpx = value & MPX
    if mpx and mpx != MPX:
        have = "BNDREGS (3)" if value & (1 << 3) else "BNDCSR (4)"
        out.append(("mpx-pair", f"MPX bits 4:3 are neither 00b nor 11b: only {have} is set "
                                "(SDM Vol.1 §13.3)"))
    avx512 = value & AVX512
    if avx512 and avx512 != AVX512:
        missing = _bit_list(AVX512 & ~value)
        out.append(("avx512-group", f"AVX-512 bits 7:5 must be 000b or 111b; set {_bit_list(avx512)}, "
                                    f"missing {missing} (SDM Vol.1 §13.3)"))
    if avx512 and (value & SSE_AVX) != SSE_AVX:
        missing = _bit_list(SSE_AVX & ~value)
        out.append(("avx512-needs-avx", f"AVX-512 state (bits 7:5) needs SSE and AVX (bits 2:1 = 11b); "
                                        f"missing {missing} (SDM Vol.1 §13.3)"))
    amx = value & AMX
    if amx and amx != AMX:
        have, miss = ("XTILECFG (17)", "XTILEDATA (18)") if value & (1 << 17) else ("XTILEDATA (18)", "XTILECFG (17)")
        out.append(("amx-pair", f"AMX bits 18:17 must be 00b or 11b: {have} is set without {miss} "
                                "(SDM Vol.1 §13.3: #GP if EAX[17] != EAX[18])"))
    if value & APX and value & MPX:
        out.append(("apx-mpx", "APX (bit 19) together with MPX (bits 3/4): both use the same offset of the "
                               "standard XSAVE layout; no CPU enumerates both and KVM's APX support rejects "
                               "the pair (Intel APX spec; not an SDM XSETBV rule)"))
    sup = value & SUPERVISOR_MASK
    if sup:
        out.append(("supervisor", f"supervisor-only state component(s) {_bit_list(sup)} can be enabled only in "
                                  "IA32_XSS, never in XCR0 (SDM Vol.1 §13.2, Vol.3A §2.6)"))
    res = value & RESERVED_MASK
    if res:
        out.append(("reserved", f"reserved bit(s) {_bit_list(res)} are set; no state component exists there "
                                "(SDM Vol.3A §2.6: bits 20-61 reserved, bit 63 reserved for future expansion)"))
    if value >> LWP_BIT & 1 and supported is None:
        out.append(("lwp", f"bit {LWP_BIT} (LWP) is a state component only on AMD family 15h (Bulldozer to "
                           "Excavator, CPUID.80000001H:ECX[15]) and reserved on every other CPU, where XSETBV "
                           "raises #GP(0) (SDM Vol.3A §2.6: reserved bits as enumerated by CPUID.(0DH,0)); "
                           "KVM never exposes it (not in KVM_SUPPORTED_XCR0). Give the CPU's leaf 0xD mask "
                           "(--supported/--cpuid) if it really enumerates LWP"))
    return out


def is_valid(value: int, supported: int | None = None) -> bool:
    return not xcr0_violations(value, supported)


def _valid_candidates(allowed: int) -> list[int]:
    """All rule-abiding XCR0 values using only bits in ``allowed`` (plus x87).

    Built from the independent groups so it never enumerates 2^20 values. LWP (bit 62) is a
    candidate only when ``allowed`` is a CPUID mask that enumerates it.
    """
    allowed |= 1
    out = []
    for sse in (0, 1 << 1):
        for avx in (0, 1 << 2):
            if avx and not sse:
                continue
            for mpx in (0, MPX):
                for avx512 in (0, AVX512):
                    if avx512 and not (sse and avx):
                        continue
                    for pkru in (0, 1 << 9):
                        for amx in (0, AMX):
                            for apx in (0, APX):
                                if apx and mpx:
                                    continue
                                for lwp in (0, 1 << 62):
                                    v = 1 | sse | avx | mpx | avx512 | pkru | amx | apx | lwp
                                    if v & ~allowed == 0:
                                        out.append(v)
    return out


def nearest_valid(value: int, supported: int | None = None) -> list[int]:
    """The valid XCR0 values at the smallest Hamming distance from ``value``, largest first.

    0x202e7 -> [0x602e7 (expose AMX), 0x2e7 (hide AMX)]. With ``supported`` (a CPUID leaf 0xD
    mask) only values it enumerates are candidates.
    """
    allowed = U64 & ~(1 << LWP_BIT) if supported is None else supported
    cands = _valid_candidates(allowed)
    best = min((bin(value ^ c).count("1") for c in cands), default=None)
    if best is None:
        return []
    return sorted((c for c in cands if bin(value ^ c).count("1") == best), reverse=True)


def xsave_size(value: int) -> int:
    """Standard-format XSAVE area size for an XCR0 with the typical Intel offsets: the end of the
    highest enabled component (512 legacy + 64 header = 576 at least). An estimate — real offsets
    come from CPUID.(0DH,i):EBX and differ on AMD — so callers label it as such."""
    end = 576
    for b in _bits(value):
        comp = COMPONENTS.get(b)
        if comp is not None and comp.offset is not None and comp.size is not None:
            end = max(end, comp.offset + comp.size)
    return end


def component_table(value: int) -> str:
    """Text table of the set bits: bit, name, class, size, enabling CPUID feature."""
    rows = [f"{'bit':>3}  {'component':<10} {'class':<10} {'size':>6}  enabled by"]
    for b in _bits(value):
        c = COMPONENTS.get(b)
        if c is None:
            rows.append(f"{b:>3}  {'-':<10} {'reserved':<10} {'-':>6}  (no state component)")
        else:
            size = f"{c.size}" if c.size is not None else "cpu"
            rows.append(f"{b:>3}  {c.name:<10} {c.kind:<10} {size:>6}  {c.feature}"
                        + (f"; {c.note}" if c.note else ""))
    return "\n".join(rows)


def xcr0_findings(value: int, supported: int | None = None, source: Location | None = None) -> list[Finding]:
    """X001 (one finding listing every violated rule) and X002 (bits the CPUID does not enumerate).

    ``supported`` is CPUID.(EAX=0DH,ECX=0):EDX:EAX of the (virtual) CPU; ``source`` says where the
    value came from (a dump line, a log line, or a command-line argument).
    """
    locs = [source] if source is not None else []
    findings: list[Finding] = []
    viol = xcr0_violations(value, supported)
    lwp_enumerated = supported is not None and bool(supported >> LWP_BIT & 1)
    nearest = nearest_valid(value, U64 if lwp_enumerated else None)
    if viol:
        rules = "; ".join(expl for _, expl in viol)
        findings.append(Finding(
            "X001",
            f"XCR0 {value:#x} = {bit_names(value)} breaks {len(viol)} rule(s): {rules}. "
            "XSETBV raises #GP(0) and KVM's __kvm_set_xcr() rejects it",
            locations=list(locs),
            data={"xcr0": value, "components": bit_names(value), "violations": [r for r, _ in viol],
                  "explanations": [e for _, e in viol], "nearest_valid": nearest},
            fix="use " + " or ".join(describe_alternative(value, n) for n in nearest) if nearest else None,
        ))
    if supported is not None:
        # Supervisor and reserved bits are already named by X001 whenever they are set; x87 is
        # always acceptable (KVM: "xcr0 bit 0 is always set, even if the emulated CPU does not
        # support XSAVE").
        extra = value & ~supported & ~1 & ~SUPERVISOR_MASK & ~RESERVED_MASK
        if extra:
            within = nearest_valid(value, supported)
            lwp = (f"; bit {LWP_BIT} (LWP) exists only on AMD family 15h and is reserved on every other CPU"
                   if extra >> LWP_BIT & 1 else "")
            findings.append(Finding(
                "X002",
                f"XCR0 {value:#x} sets {_bit_list(extra)}, not enumerated in CPUID.(EAX=0DH,ECX=0):EDX:EAX = "
                f"{supported:#x} ({bit_names(supported)}); XSETBV raises #GP(0) (SDM Vol.3A §2.6){lwp}",
                locations=list(locs),
                data={"xcr0": value, "supported": supported, "unsupported_bits": _bits(extra),
                      "nearest_valid_within_supported": within},
                fix=("use " + " or ".join(f"{n:#x}" for n in within)) if within else
                    "the CPUID enumerates no valid XCR0 at all (see X003)",
            ))
    return findings


def describe_alternative(value: int, cand: int) -> str:
    added, removed = cand & ~value, value & ~cand
    parts = []
    if added:
        parts.append("add " + bit_names(added))
    if removed:
        parts.append("drop " + bit_names(removed))
    return f"{cand:#x} ({', '.join(parts)})"
