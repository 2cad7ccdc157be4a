"""Names of CPUID feature bits that the checks compare (Intel SDM Vol.2 CPUID, AMD APM Vol.3;
AMX/APX positions as in QEMU target/i386/cpu.h — reference note §5). Unnamed bits are still
compared and printed as CPUID.(leaf,sub):REG[bit]."""

from __future__ import annotations

# (leaf, subleaf, register) -> {bit: name}
FEATURE_WORDS: dict[tuple[int, int, str], dict[int, str]] = {
    (1, 0, "ecx"): {0: "SSE3", 1: "PCLMULQDQ", 3: "MONITOR", 5: "VMX", 6: "SMX", 9: "SSSE3", 12: "FMA",
                    13: "CX16", 19: "SSE4.1", 20: "SSE4.2", 21: "x2APIC", 22: "MOVBE", 23: "POPCNT",
                    24: "TSC-DEADLINE", 25: "AES", 26: "XSAVE", 27: "OSXSAVE", 28: "AVX", 29: "F16C",
                    30: "RDRAND", 31: "HYPERVISOR"},
    (1, 0, "edx"): {0: "FPU", 4: "TSC", 5: "MSR", 6: "PAE", 8: "CX8", 9: "APIC", 11: "SEP", 12: "MTRR",
                    13: "PGE", 15: "CMOV", 16: "PAT", 19: "CLFSH", 23: "MMX", 24: "FXSR", 25: "SSE",
                    26: "SSE2", 28: "HTT"},
    (7, 0, "ebx"): {0: "FSGSBASE", 3: "BMI1", 4: "HLE", 5: "AVX2", 7: "SMEP", 8: "BMI2", 9: "ERMS",
                    10: "INVPCID", 11: "RTM", 14: "MPX", 16: "AVX512F", 17: "AVX512DQ", 18: "RDSEED",
                    19: "ADX", 20: "SMAP", 21: "AVX512_IFMA", 23: "CLFLUSHOPT", 24: "CLWB", 25: "INTEL_PT",
                    26: "AVX512PF", 27: "AVX512ER", 28: "AVX512CD", 29: "SHA", 30: "AVX512BW",
                    31: "AVX512VL"},
    (7, 0, "ecx"): {1: "AVX512_VBMI", 2: "UMIP", 3: "PKU", 4: "OSPKE", 5: "WAITPKG", 6: "AVX512_VBMI2",
                    7: "CET_SS", 8: "GFNI", 9: "VAES", 10: "VPCLMULQDQ", 11: "AVX512_VNNI",
                    12: "AVX512_BITALG", 14: "AVX512_VPOPCNTDQ", 16: "LA57", 22: "RDPID", 25: "CLDEMOTE",
                    27: "MOVDIRI", 28: "MOVDIR64B", 29: "ENQCMD"},
    (7, 0, "edx"): {2: "AVX512_4VNNIW", 3: "AVX512_4FMAPS", 4: "FSRM", 5: "UINTR", 8: "AVX512_VP2INTERSECT",
                    14: "SERIALIZE", 16: "TSXLDTRK", 19: "ARCH_LBR", 20: "CET_IBT", 22: "AMX-BF16",
                    23: "AVX512_FP16", 24: "AMX-TILE", 25: "AMX-INT8", 26: "SPEC_CTRL", 27: "STIBP",
                    29: "ARCH_CAPABILITIES", 31: "SSBD"},
    (7, 1, "eax"): {4: "AVX-VNNI", 5: "AVX512_BF16", 21: "AMX-FP16", 23: "AVX-IFMA"},
    (7, 1, "edx"): {8: "AMX-COMPLEX", 19: "AVX10", 21: "APX_F"},
    (0xD, 1, "eax"): {0: "XSAVEOPT", 1: "XSAVEC", 2: "XGETBV_ECX1", 3: "XSAVES", 4: "XFD"},
    (0x80000001, 0, "ecx"): {0: "LAHF_LM", 2: "SVM", 5: "LZCNT", 6: "SSE4A", 8: "PREFETCHW", 11: "XOP",
                             15: "LWP", 16: "FMA4", 21: "TBM"},
    (0x80000001, 0, "edx"): {11: "SYSCALL", 20: "NX", 26: "PDPE1GB", 27: "RDTSCP", 29: "LM"},
}

# Guest bits that need no host support: per-OS mirrors, bits KVM emulates or synthesises
# (KVM_GET_EMULATED_CPUID: MOVBE, RDPID; x2APIC and TSC-deadline are emulated by KVM's local
# APIC; HYPERVISOR is set for every guest; ARCH_CAPABILITIES is emulated by KVM).
EMULATED: set[tuple[int, int, str, int]] = {
    (1, 0, "ecx", 21), (1, 0, "ecx", 22), (1, 0, "ecx", 24), (1, 0, "ecx", 27), (1, 0, "ecx", 31),
    (7, 0, "ecx", 4), (7, 0, "ecx", 22), (7, 0, "edx", 29),
}


def leaf_name(leaf: int, sub: int, reg: str, bit: int | None = None) -> str:
    leaf_s = str(leaf) if leaf < 10 else f"{leaf:#x}"
    base = f"CPUID.{leaf_s}:{reg.upper()}" if sub == 0 and leaf in (1, 0x80000001) else \
        f"CPUID.({leaf_s},{sub}):{reg.upper()}"
    if bit is None:
        return base
    name = FEATURE_WORDS.get((leaf, sub, reg), {}).get(bit)
    return f"{base}[{bit}]" + (f" {name}" if name else "")
