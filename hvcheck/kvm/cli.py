"""`hvcheck kvm`: probe the live KVM host (or replay a saved probe) and check its answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from hvcheck.cli import AreaCommand, common_options, finish
from hvcheck.errors import InputError

if TYPE_CHECKING:
    from hvcheck.kvm.record import Probe


@click.command(cls=AreaCommand, area="x86")
@click.option("--device", default="/dev/kvm", show_default=True, metavar="PATH", help="The KVM device to probe.")
@click.option("--xsetbv", "values", multiple=True, metavar="VALUE",
              help="Run XSETBV with this XCR0 value (0x..., EDX:EAX) in a real vCPU; repeatable. "
                   "Default: the host's own supported mask.")
@click.option("--cpuid", "cpuid_path", metavar="DUMP", type=click.Path(dir_okay=False),
              help="Give the micro-guest this CPUID (`cpuid -r` output or JSON leaf list) instead of "
                   "KVM_GET_SUPPORTED_CPUID.")
@click.option("--save", "save_path", metavar="FILE", help="Also write every recorded answer to FILE (JSON).")
@click.option("--from", "from_path", metavar="FILE", help="Check a probe saved with --save instead of this host.")
@common_options
def kvm(device: str, values: tuple[str, ...], cpuid_path: str | None, save_path: str | None,
        from_path: str | None, fmt: str, output: str | None, fail_on: str) -> int:
    """Check the live KVM host's API against its own promises, and prove a guest XSETBV in a
    real vCPU.

    Creates one scratch VM and vCPU and records every answer (ioctl, fd class, result, kernel
    release). Every capability is checked against the ioctl it advertises on the fd class it
    describes, and ioctls are tried on classes upstream never implements them on (X010, the seed-000
    bug); KVM_GET_SUPPORTED_CPUID under the CPUID rules (X003/X004) and against
    KVM_X86_XCOMP_GUEST_SUPP (X012); the vCPU keeps the CPUID and XCR0 it is given (X013, X016);
    a tiny guest sets CR4.OSXSAVE and executes XSETBV, and its #GP or acceptance is compared with
    the X001/X002 prediction (X011, X014). Rules: {rules}.
    """
    from hvcheck.kvm.checks import check_probe
    from hvcheck.kvm.summary import json_facts, text_lines

    if from_path is not None:
        if values or cpuid_path or device != "/dev/kvm":
            raise click.UsageError("--from replays a saved probe; --device, --xsetbv and --cpuid need the live host")
        from hvcheck.kvm.record import read_probe

        probe = read_probe(from_path)
    else:
        probe = _live(device, values, cpuid_path)
    if save_path is not None:
        _save(probe.to_json_text(), save_path)
    findings = check_probe(probe)
    return finish(findings, fmt=fmt, output=output, fail_on=fail_on, title="hvcheck kvm",
                  preamble="\n".join(text_lines(probe)), extra={"kvm": json_facts(probe)})


def _live(device: str, values: tuple[str, ...], cpuid_path: str | None) -> Probe:
    from hvcheck.kvm.probe import GuestCpuid, entries_from_leaves, probe_host
    from hvcheck.x86.cli import parse_u64

    parsed = [parse_u64(v, "--xsetbv value") for v in values]
    guest = None
    if cpuid_path is not None:
        from hvcheck.x86.cpuid_model import read_cpuid_dump

        dump = read_cpuid_dump(cpuid_path)
        guest = GuestCpuid(cpuid_path, entries_from_leaves(dump.leaves()))
    return probe_host(device, parsed or None, guest)


def _save(text: str, path: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise InputError(path, f"cannot write the probe: {exc.strerror}") from None
