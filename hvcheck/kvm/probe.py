"""Ask a live KVM host its questions and record every answer (the reader of this area).

One scratch VM and vCPU: the system ioctls on /dev/kvm, every KVM_CHECK_EXTENSION on /dev/kvm and the
VM fd, the read-only ioctls each capability advertises on the fd class it describes, a few ioctls on
classes upstream never implements them on (a misplaced backport answers there), KVM_SET_CPUID2 and
the XCR0 round trip, and the XSETBV micro-guest (hvcheck.kvm.guest). Nothing is judged here: the
answers go into a :class:`~hvcheck.kvm.record.Probe` for hvcheck.kvm.checks.
"""

from __future__ import annotations

import errno
import grp
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hvcheck import __version__
from hvcheck.errors import InputError
from hvcheck.kvm import abi, guest
from hvcheck.kvm.record import Answer, CpuidEntry, Probe, XsetbvRun

MAX_CPUID_ENTRIES = 4096   # KVM_MAX_CPUID_ENTRIES is 256; room to grow, bounded
MAX_MSRS = 4096
TSS_ADDR = 0xFFFBD000      # where QEMU puts the VMX real-mode TSS (KVM_SET_TSS_ADDR)
RUN_TIMEOUT = 2.0          # seconds one KVM_RUN may take before SIGALRM interrupts it (-EINTR)
# Leaves whose sub-leaf (ECX) matters: KVM_CPUID_FLAG_SIGNIFCANT_INDEX (arch/x86/kvm/cpuid.c).
INDEXED_LEAVES = frozenset({4, 7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1D, 0x1E, 0x1F, 0x20, 0x23,
                            0x24, 0x8000001D, 0x80000020, 0x80000026})


@dataclass
class GuestCpuid:
    """The CPUID the micro-guest gets: a label for the report and struct kvm_cpuid_entry2 tuples."""

    label: str
    entries: list[CpuidEntry]


def entries_from_leaves(leaves: dict[tuple[int, int], tuple[int, int, int, int]]) -> list[CpuidEntry]:
    """A CPUID dump's leaves as KVM_SET_CPUID2 entries (sub-leaf significant where KVM says so)."""
    out: list[CpuidEntry] = []
    for (leaf, sub), (a, b, c, d) in sorted(leaves.items()):
        flags = abi.KVM_CPUID_FLAG_SIGNIFCANT_INDEX if leaf in INDEXED_LEAVES else 0
        if not flags and sub:
            continue  # a sub-leaf KVM would ignore; keep the first
        out.append((leaf, sub, flags, a, b, c, d))
    return out


def xcr0_mask(entries: list[CpuidEntry]) -> int | None:
    for e in entries:
        if e[0] == 0xD and e[1] == 0:
            return e[6] << 32 | e[3]
    return None


def xsave_flag(entries: list[CpuidEntry]) -> bool:
    return any(e[0] == 1 and e[1] == 0 and e[5] >> 26 & 1 for e in entries)


# --------------------------------------------------------------------------------------------
# Host identity and the device

def host_facts() -> tuple[str, str, list[str], bool | None]:
    """uname -r, uname -m, the loaded KVM modules, and whether this host itself runs under a
    hypervisor (x86: CPUID.1:ECX[31], the "hypervisor" flag of /proc/cpuinfo)."""
    uts = os.uname()
    try:
        modules = sorted(m for m in os.listdir("/sys/module") if m == "kvm" or m.startswith("kvm_"))
    except OSError:
        modules = []
    flags = _cpuinfo_flags()
    under = ("hypervisor" in flags) if flags else None
    return uts.release, uts.machine, modules, under


def _cpuinfo_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _module_hint(machine: str) -> str:
    flags = _cpuinfo_flags()
    if not abi.is_x86(machine):
        return "load the kvm module of this architecture (`modprobe kvm`)"
    if "vmx" in flags:
        return "load it with `modprobe kvm_intel` (this CPU has VMX)"
    if "svm" in flags:
        return "load it with `modprobe kvm_amd` (this CPU has SVM)"
    return ("this CPU shows neither VMX nor SVM: enable virtualisation in the firmware, or, inside a VM, "
            "enable nested virtualisation on the host (kvm_intel nested=1 / kvm_amd nested=1, "
            "`-cpu host` or +vmx/+svm)")


def open_device(path: str, machine: str) -> int:
    """Open the KVM device read-only (enough for every ioctl KVM has); explain each way it fails."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError(path, f"not present: the KVM module is not loaded; {_module_hint(machine)}") from None
    except PermissionError:
        raise InputError(path, _permission_hint(path)) from None
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENXIO):
            raise InputError(path, f"no KVM driver behind the device node; {_module_hint(machine)}") from None
        raise InputError(path, f"cannot open: {exc.strerror}") from None


def _permission_hint(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "permission denied"
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    mode = st.st_mode & 0o777
    if mode & 0o060 == 0o060:
        return (f"permission denied: the device is mode {mode:04o}, group '{group}'; add your user to that group "
                f"(`usermod -aG {group} $USER`, then log in again) or run as root")
    return (f"permission denied: the device is mode {mode:04o} (owner uid {st.st_uid}, group '{group}'), so only "
            f"its owner may open it; run as root, or let a group use it (udev: KERNEL==\"kvm\", GROUP=\"kvm\", "
            f"MODE=\"0660\", then `usermod -aG kvm $USER`)")


# --------------------------------------------------------------------------------------------
# Recording

class Recorder:
    """Issues ioctls through hvcheck.kvm.abi and appends every answer to the probe."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def call(self, fd: int, cls: str, name: str, arg: int | abi.Buffer = 0, record: dict[str, Any] | None = None,
             decode: Callable[[abi.Result], dict[str, Any]] | None = None) -> abi.Result:
        res = abi.call(fd, name, arg, self.probe.machine)
        out = decode(res) if decode is not None and res.ok else {}
        self.probe.answers.append(Answer(len(self.probe.answers), cls, name, res.ret, res.errno,
                                         dict(record or {}), out))
        return res


def probe_host(device: str = "/dev/kvm", values: list[int] | None = None,
               guest_cpuid: GuestCpuid | None = None) -> Probe:
    """Probe the live host; run the micro-guest for ``values`` (default: the host's own supported
    XCR0 mask) with ``guest_cpuid`` (default: KVM_GET_SUPPORTED_CPUID)."""
    kernel, machine, modules, under = host_facts()
    probe = Probe(device=device, kernel=kernel, machine=machine, modules=modules, under_hypervisor=under,
                  recorded_by=f"hvcheck {__version__}", table=abi.header())
    rec = Recorder(probe)
    fd = open_device(device, machine)
    fds = [fd]
    try:
        api = rec.call(fd, "dev", "KVM_GET_API_VERSION")
        if not api.ok:
            raise InputError(device, f"not a KVM device: KVM_GET_API_VERSION failed with {api.text()}")
        if api.ret != 12:
            raise InputError(device, f"KVM_GET_API_VERSION = {api.ret}; every KVM since 2.6.22 answers 12")
        x86 = abi.is_x86(machine)
        _capabilities(rec, fd, "dev")
        mmap_size = rec.call(fd, "dev", "KVM_GET_VCPU_MMAP_SIZE").ret or 0
        supported: list[CpuidEntry] = []
        if x86:
            supported = _system_x86(rec, fd)
        else:
            probe.notes.append(f"{machine} is not x86: only the generic capability checks ran")
        vm = rec.call(fd, "dev", "KVM_CREATE_VM", 0)
        if not vm.ok or vm.ret is None:
            probe.notes.append(f"KVM_CREATE_VM failed with {vm.text()}: no VM or vCPU checks, no XSETBV proof")
            return probe
        fds.append(vm.ret)
        _capabilities(rec, vm.ret, "vm")
        if not x86:
            rec.call(vm.ret, "vm", "KVM_GET_STATS_FD", 0, {}, _close_fd)
            return probe
        _vm_x86(rec, vm.ret, fds)
        memory = guest.memory_image(0)
        mem = abi.GuestMemory(guest.MEMORY_SIZE)
        try:
            mem.write(0, memory)
            slot = rec.call(vm.ret, "vm", "KVM_SET_USER_MEMORY_REGION",
                            abi.memory_region(0, 0, guest.MEMORY_SIZE, mem.address),
                            {"slot": 0, "gpa": 0, "size": guest.MEMORY_SIZE})
            cpus = _VcpuFactory(rec, vm.ret, mmap_size, fds)
            vcpu = cpus.new()
            if vcpu is None:
                return probe
            mask = xcr0_mask(supported)
            _vcpu_x86(rec, vcpu, supported, mask)
            if not slot.ok:
                probe.notes.append(f"KVM_SET_USER_MEMORY_REGION failed with {slot.text()}: no XSETBV proof")
                return probe
            todo = values if values is not None else ([mask] if mask is not None else [])
            if guest_cpuid is not None:
                other = cpus.new()
                if other is None:
                    return probe
                cpuid_set = rec.call(other.fd, "vcpu", "KVM_SET_CPUID2", abi.cpuid2_buffer(guest_cpuid.entries),
                                     {"cpuid": guest_cpuid.label, "nent": len(guest_cpuid.entries),
                                      "entries": [list(e) for e in guest_cpuid.entries]})
                target, label, entries = other, guest_cpuid.label, guest_cpuid.entries
                if cpuid_set.ok:
                    _cpuid_query(rec, other.fd, "vcpu", "KVM_GET_CPUID2")
                else:
                    for value in todo:
                        probe.runs.append(_failed_run(value, label, entries,
                                                      f"KVM_SET_CPUID2 with {label} failed with {cpuid_set.text()}"))
                    return probe
            else:
                target, label, entries = vcpu, "KVM_GET_SUPPORTED_CPUID", supported
            for value in todo:
                probe.runs.append(run_xsetbv(rec, target, mem, value, label, entries))
        finally:
            mem.close()
    finally:
        for f in reversed(fds):
            os.close(f)
    return probe


def _capabilities(rec: Recorder, fd: int, cls: str) -> None:
    for name, number in abi.capability_names().items():
        rec.call(fd, cls, "KVM_CHECK_EXTENSION", number, {"cap": name})


Decoder = Callable[[abi.Result], dict[str, Any]]


def _reader(fn: Callable[[abi.Result, abi.Buffer], dict[str, Any]], buf: abi.Buffer) -> Decoder:
    """Bind a decoder to the buffer of the call it decodes."""
    return lambda res: fn(res, buf)


def _entries(res: abi.Result, buf: abi.Buffer) -> dict[str, Any]:
    return {"entries": [list(e) for e in abi.cpuid2_entries(buf)]}


def _cpuid_query(rec: Recorder, fd: int, cls: str, name: str) -> list[CpuidEntry]:
    """A KVM_GET_*_CPUID call with a buffer that grows on -E2BIG, as api.rst asks of user space."""
    room = 256
    while True:
        buf = abi.cpuid2_buffer(room)
        res = rec.call(fd, cls, name, buf, {"nent": room}, _reader(_entries, buf))
        if res.errno == errno.E2BIG and room < MAX_CPUID_ENTRIES:
            room *= 4
            continue
        return abi.cpuid2_entries(buf) if res.ok else []


def _msr_list(rec: Recorder, fd: int, name: str) -> list[int]:
    room = 64
    while True:
        buf = abi.msr_list(room)
        res = rec.call(fd, "dev", name, buf, {"nmsrs": room},
                       _reader(lambda r, b: {"indices": abi.msr_list_indices(b)}, buf))
        if res.errno == errno.E2BIG and room < MAX_MSRS:
            room *= 4
            continue
        return abi.msr_list_indices(buf) if res.ok else []


def _system_x86(rec: Recorder, fd: int) -> list[CpuidEntry]:
    supported = _cpuid_query(rec, fd, "dev", "KVM_GET_SUPPORTED_CPUID")
    _cpuid_query(rec, fd, "dev", "KVM_GET_EMULATED_CPUID")
    _msr_list(rec, fd, "KVM_GET_MSR_INDEX_LIST")
    features = _msr_list(rec, fd, "KVM_GET_MSR_FEATURE_INDEX_LIST")
    if features:
        buf = abi.msrs(features[:MAX_MSRS])
        rec.call(fd, "dev", "KVM_GET_MSRS", buf, {"msrs": len(features)},
                 _reader(lambda r, b: {"values": [[i, v] for i, v in abi.msrs_values(b)[:r.ret or 0]]}, buf))
    mce = abi.Buffer(8)
    rec.call(fd, "dev", "KVM_X86_GET_MCE_CAP_SUPPORTED", mce, {},
             lambda r: {"value": int.from_bytes(mce.bytes(), "little")})
    hv = abi.cpuid2_buffer(64)
    rec.call(fd, "dev", "KVM_GET_SUPPORTED_HV_CPUID", hv, {"nent": 64}, lambda r: {"nent": len(abi.cpuid2_entries(hv))})
    _attribute(rec, fd, "dev", abi.KVM_X86_XCOMP_GUEST_SUPP, "KVM_X86_XCOMP_GUEST_SUPP")
    return supported


def _attribute(rec: Recorder, fd: int, cls: str, attr: int, attr_name: str) -> None:
    """KVM_HAS_DEVICE_ATTR then KVM_GET_DEVICE_ATTR for group 0 ``attr`` (a u64 value)."""
    value = abi.Buffer(8)
    args = {"group": 0, "attr": attr, "attr_name": attr_name}
    rec.call(fd, cls, "KVM_HAS_DEVICE_ATTR", abi.device_attr(0, attr, value), args)
    rec.call(fd, cls, "KVM_GET_DEVICE_ATTR", abi.device_attr(0, attr, value), args,
             lambda r: {"value": int.from_bytes(value.bytes(), "little")})


def _close_fd(res: abi.Result) -> dict[str, Any]:
    if res.ok and res.ret is not None:
        os.close(res.ret)
    return {"fd_returned": True}


def _vm_x86(rec: Recorder, vm: int, fds: list[int]) -> None:
    rec.call(vm, "vm", "KVM_SET_TSS_ADDR", TSS_ADDR, {"addr": TSS_ADDR})
    rec.call(vm, "vm", "KVM_GET_CLOCK", abi.Buffer(48))
    rec.call(vm, "vm", "KVM_GET_TSC_KHZ")
    rec.call(vm, "vm", "KVM_GET_STATS_FD", 0, {}, _close_fd)
    # Classes upstream never implements these on: a misplaced backport answers here.
    _attribute(rec, vm, "vm", abi.KVM_X86_XCOMP_GUEST_SUPP, "KVM_X86_XCOMP_GUEST_SUPP")
    rec.call(vm, "vm", "KVM_GET_SUPPORTED_CPUID", abi.cpuid2_buffer(256), {"nent": 256})


@dataclass
class Vcpu:
    fd: int
    run: abi.RunArea
    id: int


class _VcpuFactory:
    def __init__(self, rec: Recorder, vm: int, mmap_size: int, fds: list[int]) -> None:
        self.rec, self.vm, self.mmap_size, self.fds = rec, vm, mmap_size, fds
        self.next_id = 0
        self.areas: list[abi.RunArea] = []

    def new(self) -> Vcpu | None:
        vid = self.next_id
        self.next_id += 1
        res = self.rec.call(self.vm, "vm", "KVM_CREATE_VCPU", vid, {"id": vid})
        if not res.ok or res.ret is None:
            self.rec.probe.notes.append(f"KVM_CREATE_VCPU({vid}) failed with {res.text()}: no vCPU checks, "
                                        "no XSETBV proof")
            return None
        self.fds.append(res.ret)
        try:
            area = abi.RunArea(res.ret, self.mmap_size)
        except (OSError, ValueError) as exc:
            self.rec.probe.notes.append(f"mmap of the vCPU's kvm_run ({self.mmap_size} bytes) failed: {exc}")
            return None
        return Vcpu(res.ret, area, vid)


def _xcrs(res: abi.Result, buf: abi.Buffer) -> dict[str, Any]:
    return {"xcrs": {str(k): v for k, v in abi.xcrs_values(buf).items()}}


def _get_xcrs(rec: Recorder, vcpu: int) -> dict[int, int] | None:
    buf = abi.xcrs({})
    res = rec.call(vcpu, "vcpu", "KVM_GET_XCRS", buf, {}, lambda r: _xcrs(r, buf))
    return abi.xcrs_values(buf) if res.ok else None


def _vcpu_x86(rec: Recorder, vcpu: Vcpu, supported: list[CpuidEntry], mask: int | None) -> None:
    fd = vcpu.fd
    rec.call(fd, "vcpu", "KVM_SET_CPUID2", abi.cpuid2_buffer(supported),
             {"cpuid": "KVM_GET_SUPPORTED_CPUID", "nent": len(supported)})
    _cpuid_query(rec, fd, "vcpu", "KVM_GET_CPUID2")
    _get_xcrs(rec, fd)
    if mask is not None:
        rec.call(fd, "vcpu", "KVM_SET_XCRS", abi.xcrs({abi.XCR_XFEATURE_ENABLED_MASK: mask}), {"xcr0": mask})
        _get_xcrs(rec, fd)
        rec.call(fd, "vcpu", "KVM_SET_XCRS", abi.xcrs({abi.XCR_XFEATURE_ENABLED_MASK: 1}), {"xcr0": 1})
    rec.call(fd, "vcpu", "KVM_GET_XSAVE", abi.Buffer(4096))
    cap = rec.probe.cap("KVM_CAP_XSAVE2", "vm") or rec.probe.cap("KVM_CAP_XSAVE2")
    size = max(4096, cap.ret or 0) if cap is not None and cap.ok else 4096
    rec.call(fd, "vcpu", "KVM_GET_XSAVE2", abi.Buffer(min(size, 1 << 20)), {"size": size})
    _attribute(rec, fd, "vcpu", abi.KVM_VCPU_TSC_OFFSET, "KVM_VCPU_TSC_OFFSET")
    rec.call(fd, "vcpu", "KVM_GET_TSC_KHZ")
    rec.call(fd, "vcpu", "KVM_GET_VCPU_EVENTS", abi.Buffer(64))
    rec.call(fd, "vcpu", "KVM_GET_DEBUGREGS", abi.Buffer(128))
    rec.call(fd, "vcpu", "KVM_GET_MP_STATE", abi.Buffer(4))
    rec.call(fd, "vcpu", "KVM_GET_SREGS2", abi.Buffer(320))
    # struct kvm_nested_state: flags u16, format u16, size u32 (the room we give: the header only)
    nested = abi.Buffer((0).to_bytes(4, "little") + (128).to_bytes(4, "little") + bytes(120))
    rec.call(fd, "vcpu", "KVM_GET_NESTED_STATE", nested, {"size": 128})
    rec.call(fd, "vcpu", "KVM_GET_SUPPORTED_HV_CPUID", abi.cpuid2_buffer(64), {"nent": 64})
    rec.call(fd, "vcpu", "KVM_GET_STATS_FD", 0, {}, _close_fd)
    # Classes upstream never implements these on.
    rec.call(fd, "vcpu", "KVM_GET_SUPPORTED_CPUID", abi.cpuid2_buffer(256), {"nent": 256})
    rec.call(fd, "vcpu", "KVM_X86_GET_MCE_CAP_SUPPORTED", abi.Buffer(8))


# --------------------------------------------------------------------------------------------
# The micro-guest

@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Interrupt a KVM_RUN that does not come back (it then fails with -EINTR)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _failed_run(value: int, label: str, entries: list[CpuidEntry], detail: str) -> XsetbvRun:
    return XsetbvRun(value=value, cpuid=label, cpuid_xcr0=xcr0_mask(entries), cpuid_xsave=xsave_flag(entries),
                     outcome="error", detail=detail)


def run_xsetbv(rec: Recorder, vcpu: Vcpu, mem: abi.GuestMemory, value: int, label: str,
               entries: list[CpuidEntry]) -> XsetbvRun:
    """One micro-guest run on ``vcpu`` (whose CPUID is already set): reset XCR0, registers and the
    code, run to HLT, read the report and XCR0/CR4 afterwards."""
    fd = vcpu.fd
    run = XsetbvRun(value=value, cpuid=label, cpuid_xcr0=xcr0_mask(entries), cpuid_xsave=xsave_flag(entries),
                    outcome="error")
    code, _ = guest.main_code(value)
    mem.write(guest.MAIN, code)
    steps = [
        rec.call(fd, "vcpu", "KVM_SET_XCRS", abi.xcrs({abi.XCR_XFEATURE_ENABLED_MASK: 1}), {"xcr0": 1}),
    ]
    sregs_buf = abi.Buffer(abi.SREGS_SIZE)
    got = rec.call(fd, "vcpu", "KVM_GET_SREGS", sregs_buf)
    if not got.ok:
        run.detail = f"KVM_GET_SREGS failed with {got.text()}"
        return run
    sregs = guest.protected_mode(abi.Sregs.unpack(sregs_buf.bytes()))
    steps.append(rec.call(fd, "vcpu", "KVM_SET_SREGS", abi.Buffer(sregs.pack()), {"mode": "flat 32-bit protected"}))
    steps.append(rec.call(fd, "vcpu", "KVM_SET_REGS", abi.Buffer(abi.REGS.pack(*guest.initial_regs())),
                          {"eip": guest.MAIN, "esp": guest.STACK_TOP}))
    failed = [s for s in steps[1:] if not s.ok]
    if failed:
        run.detail = f"setting up the vCPU failed with {failed[0].text()}"
        return run
    report = guest.Report()
    for _ in range(guest.MAX_EXITS):
        with _alarm(RUN_TIMEOUT):
            res = rec.call(fd, "vcpu", "KVM_RUN", 0, {"xcr0": value}, lambda r: _exit_facts(vcpu.run))
        if not res.ok:
            run.detail = f"KVM_RUN failed with {res.text()}" + (" (timed out)" if res.errno == errno.EINTR else "")
            break
        reason = vcpu.run.exit_reason()
        if reason == abi.EXIT_IO:
            direction, size, port, count, data = vcpu.run.io()
            run.exits.append(f"IO {'out' if direction == abi.IO_OUT else 'in'} port {port:#x} "
                             f"= {int.from_bytes(data, 'little'):#x}")
            if direction == abi.IO_OUT:
                report.feed(port, data)
            continue
        if reason == abi.EXIT_HLT:
            run.exits.append("HLT")
            if report.vector is not None:
                run.outcome, run.vector, run.error_code, run.rip = "exception", report.vector, report.error_code, report.eip
                run.at = guest.instruction_at(report.eip, value)
            elif report.accepted:
                run.outcome = "accepted"
            else:
                run.detail = "the guest halted without reporting"
            break
        run.exits.append(_exit_text(vcpu.run, reason))
        run.detail = run.exits[-1]
        break
    else:
        run.detail = f"no HLT after {guest.MAX_EXITS} exits"
    xcrs = _get_xcrs(rec, fd)
    if xcrs is not None:
        run.xcr0_after = xcrs.get(abi.XCR_XFEATURE_ENABLED_MASK)
    if rec.call(fd, "vcpu", "KVM_GET_SREGS", sregs_buf).ok:
        run.cr4_after = abi.Sregs.unpack(sregs_buf.bytes()).cr4
    return run


def _exit_facts(area: abi.RunArea) -> dict[str, Any]:
    reason = area.exit_reason()
    out: dict[str, Any] = {"exit": abi.EXIT_REASONS.get(reason, str(reason))}
    if reason == abi.EXIT_IO:
        direction, size, port, count, data = area.io()
        out.update({"direction": "out" if direction == abi.IO_OUT else "in", "port": port, "size": size,
                    "data": int.from_bytes(data, "little")})
    elif reason == abi.EXIT_INTERNAL_ERROR:
        sub, words = area.internal()
        out.update({"suberror": sub, "data": words})
    elif reason == abi.EXIT_FAIL_ENTRY:
        out["hardware_entry_failure_reason"] = area.fail_entry()
    return out


def _exit_text(area: abi.RunArea, reason: int) -> str:
    name = abi.EXIT_REASONS.get(reason, str(reason))
    if reason == abi.EXIT_INTERNAL_ERROR:
        sub, _ = area.internal()
        what = {1: "emulation failure", 2: "simultaneous exceptions", 3: "delivery event",
                4: "unexpected exit reason"}.get(sub, "")
        return f"KVM_EXIT_{name} suberror {sub}" + (f" ({what})" if what else "")
    if reason == abi.EXIT_FAIL_ENTRY:
        return f"KVM_EXIT_{name} (hardware entry failure reason {area.fail_entry():#x})"
    if reason == abi.EXIT_SHUTDOWN:
        return "KVM_EXIT_SHUTDOWN (triple fault)"
    return f"KVM_EXIT_{name}"
