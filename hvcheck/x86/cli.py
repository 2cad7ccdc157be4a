"""`hvcheck xcr0`, `hvcheck cpuid`, `hvcheck ioctl`: thin adapters over hvcheck.x86.

Imports stay inside the commands so `hvcheck xcr0` loads only click and hvcheck.x86.xsave.
"""

from __future__ import annotations

import click

from hvcheck.cli import AreaCommand, common_options, finish
from hvcheck.errors import InputError


def parse_u64(text: str, what: str) -> int:
    """An integer argument that must fit a 64-bit register; 'EDX:EAX' pairs are accepted
    (as printed for XSETBV/WRMSR in oops logs)."""
    from hvcheck.units import parse_int

    try:
        if ":" in text:
            hi_s, lo_s = text.split(":", 1)
            hi, lo = parse_int(hi_s), parse_int(lo_s)
            if not (0 <= hi < 1 << 32 and 0 <= lo < 1 << 32):
                raise InputError(None, f"{what} {text!r}: EDX and EAX are 32-bit halves")
            return hi << 32 | lo
        value = parse_int(text)
    except ValueError:
        raise InputError(None, f"{what} {text!r} is not a number (use 0x..., decimal, or EDX:EAX)") from None
    if value < 0:
        raise InputError(None, f"{what} {text!r} is negative")
    if value >= 1 << 64:
        raise InputError(None, f"{what} {text!r} does not fit in 64 bits")
    return value


@click.command(cls=AreaCommand, area="x86")
@click.argument("value")
@click.option("--supported", metavar="MASK",
              help="CPUID.(EAX=0DH,ECX=0):EDX:EAX of the CPU (enables X002).")
@click.option("--cpuid", "cpuid_dump", metavar="DUMP", type=click.Path(dir_okay=False),
              help="Take the supported mask from a CPUID dump (`cpuid -r` output, JSON leaf list, or `self`).")
@common_options
def xcr0(value: str, supported: str | None, cpuid_dump: str | None, fmt: str, output: str | None,
         fail_on: str) -> int:
    """Check an XCR0 VALUE (what XSETBV writes) against the XSAVE rules.

    X001 names every architectural rule the value breaks (SDM Vol.1 §13.3, Vol.2 XSETBV); X002 the
    bits the CPU's CPUID leaf 0xD does not enumerate. Also prints the components, their sizes,
    and the nearest valid values.
    """
    from hvcheck.findings import Location
    from hvcheck.x86 import xsave

    val = parse_u64(value, "XCR0 value")
    if supported is not None and cpuid_dump is not None:
        raise InputError(None, "give either --supported or --cpuid, not both")
    mask: int | None = None
    mask_src = ""
    if supported is not None:
        mask = parse_u64(supported, "--supported mask")
        mask_src = "--supported"
    elif cpuid_dump is not None:
        dump = _load_dump(cpuid_dump)
        mask = dump.xcr0_mask()
        if mask is None:
            raise InputError(cpuid_dump, "the dump has no leaf 0xD sub-leaf 0 (no XSAVE enumeration)")
        loc = dump.location(0xD, 0)
        mask_src = str(loc)
    findings = xsave.xcr0_findings(val, mask, Location(detail=f"command-line value {value}"))
    lines = [f"XCR0 {val:#x} = {xsave.bit_names(val)}", "", xsave.component_table(val), "",
             f"standard-format XSAVE area (typical Intel offsets, estimated): {xsave.xsave_size(val)} bytes"]
    if mask is not None:
        lines.append(f"CPUID.(0DH,0):EDX:EAX = {mask:#x} ({xsave.bit_names(mask)}) from {mask_src}")
    nearest = xsave.nearest_valid(val)
    if findings and nearest:
        lines.append("nearest valid value(s): " + ", ".join(f"{n:#x}" for n in nearest))
        if mask is not None:
            within = xsave.nearest_valid(val, mask)
            lines.append("nearest valid value(s) the CPUID enumerates: "
                         + (", ".join(f"{n:#x}" for n in within) if within else "none"))
    elif not findings:
        lines.append("valid: XSETBV accepts this value" + (" on this CPUID" if mask is not None else
                                                           " (give --supported/--cpuid to check enumeration)"))
    extra = {"xcr0": val, "components": xsave.bit_names(val), "valid": not findings,
             "nearest_valid": nearest if findings else [val], "supported": mask}
    return finish(findings, fmt=fmt, output=output, fail_on=fail_on, title=None, preamble="\n".join(lines), extra=extra)


def _load_dump(arg: str):
    from hvcheck.x86.cpuid_model import read_cpuid_dump, read_self_cpuid

    return read_self_cpuid() if arg == "self" else read_cpuid_dump(arg)


def _dump_summary(label: str, dump) -> list[str]:
    from hvcheck.x86 import xsave

    mask = dump.xcr0_mask()
    lines = [f"{label}: {dump.path} ({dump.fmt}, {len(dump.cpus)} CPU(s), vendor {dump.vendor()}, "
             f"max basic leaf {dump.max_basic():#x}, {len(dump.leaves())} leaves)"]
    if mask is None:
        lines.append("  no leaf 0xD: no XSAVE enumeration")
    else:
        lines.append(f"  CPUID.(0DH,0):EDX:EAX = {mask:#x} ({xsave.bit_names(mask)}), at {dump.location(0xD, 0)}")
    return lines


@click.command(cls=AreaCommand, area="x86")
@click.argument("dump", required=False, type=click.Path(dir_okay=False))
@click.option("--host", "host_arg", metavar="DUMP",
              help="The host's CPUID (`cpuid -r` / JSON, or `self`): report what the guest has and it lacks (X005).")
@click.option("--self", "use_self", is_flag=True,
              help="Check this machine's CPUID, read through /dev/cpu/N/cpuid (needs root and the cpuid driver).")
@common_options
def cpuid(dump: str | None, host_arg: str | None, use_self: bool, fmt: str, output: str | None,
          fail_on: str) -> int:
    """Check a CPUID DUMP: leaf 0xD's XCR0 mask (X003), feature flags vs XSAVE components (X004),
    guest vs --host (X005), CPUs of one dump that disagree (X006).

    DUMP is Debian's `cpuid -r` output (one or many CPUs) or a JSON list of leaves
    ([{"leaf": "0xd", "subleaf": 0, "eax": "0x202e7", "ebx": ..., "ecx": ..., "edx": ...}, ...]).
    """
    from hvcheck.x86.cpuid_model import cpuid_findings

    if use_self == (dump is not None):
        raise InputError(None, "give a DUMP file or --self (exactly one)")
    guest = _load_dump("self" if use_self else dump)  # type: ignore[arg-type]
    host = _load_dump(host_arg) if host_arg else None
    findings = cpuid_findings(guest, host)
    lines = _dump_summary("dump", guest)
    if host is not None:
        lines += _dump_summary("host", host)
    if not findings:
        lines.append("no findings: leaf 0xD, feature flags" + (" and the host comparison" if host else "")
                     + " are consistent")
    mask = guest.xcr0_mask()
    extra = {"dump": {"path": guest.path, "format": guest.fmt, "cpus": sorted(guest.cpus),
                      "xcr0_mask": mask, "vendor": guest.vendor()}}
    if host is not None:
        extra["host"] = {"path": host.path, "format": host.fmt, "cpus": sorted(host.cpus),
                         "xcr0_mask": host.xcr0_mask(), "vendor": host.vendor()}
    return finish(findings, fmt=fmt, output=output, fail_on=fail_on, preamble="\n".join(lines), extra=extra,
                  inputs=[p for p in (dump, host_arg) if p and p != "self"] or None)


def _parse_ioctl_arg(text: str) -> int:
    """A request number (hex/decimal, as bpftrace prints it with or without 0x) or a KVM_* name."""
    from hvcheck.units import parse_int
    from hvcheck.x86.kvm_ioctls import by_name

    t = text.strip()
    if t.upper().startswith("KVM_"):
        ioc = by_name().get(t.upper())
        if ioc is None:
            raise InputError(None, f"unknown ioctl name {text!r}")
        return ioc.value
    try:
        value = parse_int(t)
    except ValueError:
        try:  # bpftrace's %x prints bare hex: 4018aee2
            value = int(t, 16)
        except ValueError:
            raise InputError(None, f"ioctl {text!r} is neither a number nor a KVM_* name") from None
    if not 0 <= value < 1 << 32:
        raise InputError(None, f"ioctl {text!r} does not fit the 32-bit request word")
    return value


@click.command(cls=AreaCommand, area="x86")
@click.argument("numbers", nargs=-1)
@click.option("--trace", "trace_files", multiple=True, type=click.Path(dir_okay=False),
              help="A bpftrace (kprobe on kvm_arch_*_ioctl) or strace log to check for misrouted ioctls (X010).")
@click.option("--probe", metavar="FUNCTION",
              help="The kernel function a bpftrace trace probed, when the file does not say (e.g. kvm_arch_vcpu_ioctl).")
@click.option("--kernel", "kernel", metavar="RELEASE",
              help="Kernel release the trace was taken on (e.g. 5.10.0-46), when the file does not say.")
@common_options
def ioctl(numbers: tuple[str, ...], trace_files: tuple[str, ...], probe: str | None, kernel: str | None,
          fmt: str, output: str | None, fail_on: str) -> int:
    """Decode KVM ioctl NUMBERS (full 32-bit request words, 16-bit fragments such as 0xAEE2, or
    KVM_* names): name, _IO/_IOR/_IOW/_IOWR, argument type and size, nr, and which fd classes
    (/dev/kvm, VM, vCPU, device) accept it since which kernel. With --trace, report ioctls that
    reached a handler class that does not implement them (X010).

    A number that is no KVM ioctl exits 1 with "not a KVM ioctl" and the generic _IOC decode.
    """
    from hvcheck.x86 import kvm_ioctls as K

    if not numbers and not trace_files:
        raise InputError(None, "give ioctl NUMBERS to decode and/or --trace FILE")
    lines: list[str] = []
    decoded: list[dict] = []
    unknown = False
    for text in numbers:
        value = _parse_ioctl_arg(text)
        res = K.lookup(value, text)
        entry: dict = {"query": text, "value": value, "generic": res.generic.text(),
                       "matches": [K.to_json(i) for i in res.matches],
                       "low16_matches": [K.to_json(i) for i in res.low16_only]}
        if lines:
            lines.append("")
        if not res.known:
            unknown = True
            entry["kvm"] = False
            lines.append(f"{text}: not a KVM ioctl; generic decode {res.generic.text()}")
            if res.generic.type != K.KVMIO:
                lines.append(f"  type {res.generic.type:#04x} is not KVMIO (0xae)")
            decoded.append(entry)
            continue
        entry["kvm"] = True
        for i in res.matches:
            lines.extend(K.describe(i))
        if res.low16_only:
            entry["low16_only"] = True
            names = ", ".join(f"{i.name} ({i.value:#010x})" for i in res.low16_only)
            warn = "warning: only the low 16 bits seem to be given"
            if res.matches:
                warn = "warning: this 16-bit value is a complete _IO request, but it is also the low 16 bits of"
            lines.append(f"{warn}: {names}. Decode the full 32-bit request word (bpftrace prints it with %x "
                         "of the ioctl argument; strace with -X raw)")
            if len(res.low16_only) + len(res.matches) > 1:
                entry["ambiguous"] = True
                lines.append(f"  {text} is ambiguous: {len(res.low16_only) + len(res.matches)} ioctls share it")
            for i in res.low16_only:
                lines.extend("  " + ln for ln in K.describe(i))
        decoded.append(entry)
    findings = []
    extra: dict = {"ioctls": decoded, "table": K.header_info()}
    if trace_files:
        from hvcheck.x86.ioctl_trace import analyse_trace, read_trace

        for path in trace_files:
            trace = read_trace(path, probe=probe, kernel=kernel)
            findings.extend(analyse_trace(trace))
            if lines:
                lines.append("")
            lines.extend(trace.summary_lines())
        extra["traces"] = list(trace_files)
    lines.append("")
    lines.append(f"table: {K.header_info()}")
    code = finish(findings, fmt=fmt, output=output, fail_on=fail_on, preamble="\n".join(lines), extra=extra,
                  inputs=list(trace_files) or None)
    # An unknown request word is a result, not a usage error: exit 1 even with no finding.
    return 1 if unknown else code
