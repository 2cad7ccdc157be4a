"""`hvcheck xcr0`, `hvcheck cpuid`, `hvcheck ioctl`: thin adapters over hvcheck.x86.

Imports stay inside the commands so `hvcheck xcr0` loads only click and hvcheck.x86.xsave.
"""

from __future__ import annotations

import click

from hvcheck.cli import common_options, finish
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


@click.command()
@click.argument("value")
@click.option("--supported", metavar="MASK",
              help="CPUID.(EAX=0DH,ECX=0):EDX:EAX of the CPU (enables X002).")
@click.option("--cpuid", "cpuid_dump", metavar="DUMP", type=click.Path(dir_okay=False),
              help="Take the supported mask from a CPUID dump (`cpuid -r` output or JSON leaf list).")
@common_options
def xcr0(value: str, supported: str | None, cpuid_dump: str | None, fmt: str, output: str | None,
         fail_on: str) -> None:
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
        from hvcheck.x86.cpuid_model import read_cpuid_dump

        dump = read_cpuid_dump(cpuid_dump)
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
    finish(findings, fmt=fmt, output=output, fail_on=fail_on, title=None, preamble="\n".join(lines), extra=extra)
