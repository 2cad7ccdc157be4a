"""Read KVM ioctl traces (bpftrace kprobe output, strace logs) and find misrouted ioctls (X010).

bpftrace: lines like the seed's ``ioctl args: flip ffff..., ioctl 4018aee2, arg 7ffc...`` printed by
a kprobe on one of the KVM ioctl handlers. The handler (hence the fd class) comes from the line
itself when the script prints ``probe``/``func`` (``kprobe:kvm_arch_dev_ioctl ...``), otherwise from
the bpftrace command saved in the file (``bpftrace -e 'kprobe:kvm_arch_vcpu_ioctl {...}'``) or
``--probe``. ``kretprobe`` lines (``... ret -22``) attach a return value to the last call.

strace: ``ioctl(3</dev/kvm>, KVM_GET_DEVICE_ATTR, 0x7ffd...) = -1 EINVAL (Invalid argument)``, with
or without ``-y`` (fd classes are then tracked from ``openat("/dev/kvm") = 3``, ``KVM_CREATE_VM = 4``,
``KVM_CREATE_VCPU = 5``), ``-f`` (``[pid N]`` prefixes, unfinished/resumed pairs), ``-tt``/``-T``,
``-X raw`` (numeric requests) and strace's ``_IOC(...)`` spelling of requests it cannot name.

The kernel release (for "implemented there only since") comes from ``uname -r``/``uname -a``
output or a ``Linux version`` line in the file, or ``--kernel``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcheck.errors import InputError
from hvcheck.findings import Finding, Location, Severity, declare_rule
from hvcheck.inputs import read_capped
from hvcheck.x86 import kvm_ioctls as K
from hvcheck.x86.kvm_fd_classes import CLASS_LABEL, HANDLERS, UNKNOWN_ERRNO, version_key

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("X010", "a KVM ioctl reached a file-descriptor class that does not implement it", Severity.ERROR, "x86")

MAX_TRACE_BYTES = 256 << 20
MAX_TRACE_LINE = 4096  # characters of one trace line that are parsed
ERRNO = {"EINVAL": 22, "ENOTTY": 25, "ENXIO": 6, "EFAULT": 14, "E2BIG": 7, "EPERM": 1, "EBUSY": 16,
         "ENOMEM": 12, "EOPNOTSUPP": 95, "EEXIST": 17, "ENOENT": 2, "EAGAIN": 11, "EINTR": 4, "EIO": 5}
ERRNO_NAME = {v: k for k, v in ERRNO.items()}


@dataclass
class Event:
    line: int
    cmd: int
    cls: str | None              # fd class the ioctl was issued on / dispatched to
    via: str                     # how cls is known: "kprobe:kvm_arch_vcpu_ioctl", "fd 3</dev/kvm>", ...
    ret: int | None = None       # return value; negative errno for failures
    arg: str | None = None
    issued_on: str | None = None  # a second, independent fd-class fact (file name printed by the probe)

    @property
    def failed(self) -> bool:
        return self.ret is not None and self.ret < 0

    def errno_name(self) -> str | None:
        return ERRNO_NAME.get(-self.ret) if self.ret is not None and self.ret < 0 else None


@dataclass
class Trace:
    path: str
    kind: str
    events: list[Event] = field(default_factory=list)
    kernel: str | None = None
    kernel_line: int | None = None
    probe: str | None = None
    caps: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # cap -> (ret, line, class)
    skipped: int = 0  # ioctl lines on fds that are not KVM fds / not KVM requests

    def summary_lines(self) -> list[str]:
        out = [f"trace: {self.path} ({self.kind}, {len(self.events)} KVM ioctl event(s)"
               + (f", kernel {self.kernel}" if self.kernel else ", kernel release unknown")
               + (f", probe {self.probe}" if self.probe else "") + ")"]
        for ev in self.events[:50]:
            name = _name(ev.cmd)
            ret = "" if ev.ret is None else f" = {ev.ret}" + (f" ({ev.errno_name()})" if ev.errno_name() else "")
            cls = CLASS_LABEL.get(ev.cls or "", "?")
            out.append(f"  line {ev.line}: {name} ({ev.cmd:#010x}) on {cls} [{ev.via}]{ret}")
        if len(self.events) > 50:
            out.append(f"  ... {len(self.events) - 50} more")
        return out


def _name(cmd: int) -> str:
    res = K.lookup(cmd)
    return res.matches[0].name if res.matches else "unknown"


def _read(path: str) -> list[str]:
    data = read_capped(path, MAX_TRACE_BYTES, "ioctl traces")
    if b"\0" in data[:65536]:
        raise InputError(path, "binary data (NUL bytes); expected bpftrace or strace text output")
    # strace and bpftrace lines are short; a megabyte line is junk, and the line patterns (with
    # `.*` beside `\s*`) backtrack quadratically over it (found by fuzz.runner). Match only the
    # head of each line; line numbers stay right.
    return [ln if len(ln) <= MAX_TRACE_LINE else ln[:MAX_TRACE_LINE]
            for ln in data.decode("utf-8", errors="replace").splitlines()]


_KERNEL_REL = re.compile(r"^\s*(\d+\.\d+(?:\.\d+)?(?:[-+.~][\w.+~-]*)?)\s*$")
_LINUX_VERSION = re.compile(r"\bLinux(?: version)? (?:\S+ )?(\d+\.\d+(?:\.\d+)?[\w.+~-]*)")
_UNAME_A = re.compile(r"^\s*Linux\s+\S+\s+(\d+\.\d+(?:\.\d+)?[\w.+~-]*)\s")


def _find_kernel(lines: list[str]) -> tuple[str | None, int | None]:
    for no, line in enumerate(lines, 1):
        if line.rstrip().endswith("uname -r") and no < len(lines):
            m = _KERNEL_REL.match(lines[no])
            if m:
                return m.group(1), no + 1
        m = _UNAME_A.match(line) or _LINUX_VERSION.search(line)
        if m:
            return m.group(1), no
        m = re.match(r"^\s*#\s*kernel:\s*(\S+)", line)
        if m:
            return m.group(1), no
    return None, None


def read_trace(path: str, probe: str | None = None, kernel: str | None = None) -> Trace:
    lines = _read(path)
    is_strace = any(re.search(r"(^|\s|\])ioctl\(\d+", ln) for ln in lines)
    trace = _parse_strace(path, lines) if is_strace else _parse_bpftrace(path, lines, probe)
    found, line = _find_kernel(lines)
    trace.kernel = kernel or found
    trace.kernel_line = None if kernel else line
    if not trace.events:
        raise InputError(path, "no KVM ioctl events found: expected bpftrace lines such as `ioctl args: flip ..., "
                               "ioctl 4018aee2, arg ...` or strace `ioctl(3</dev/kvm>, KVM_..., ...) = ...`")
    return trace


# --------------------------------------------------------------------------------------------
# bpftrace

_BPF_CMD = re.compile(r"\b(?:ioctl|cmd)\s*[:=]?\s*(?:0x)?([0-9a-fA-F]{1,8})\b")
_BPF_RET = re.compile(r"\bret(?:val)?\s*[:=]?\s*(-?\d+)")
_BPF_PROBE = re.compile(r"\bk(ret)?probe:(\w+)")
_BPF_FILE = re.compile(r"(/dev/kvm|kvm-vcpu:\d+|kvm-vm)\b")
_FILE_CLASS = {"/dev/kvm": "dev", "kvm-vm": "vm"}


def _file_class(name: str) -> str:
    return "vcpu" if name.startswith("kvm-vcpu") else _FILE_CLASS[name]


def _parse_bpftrace(path: str, lines: list[str], probe: str | None) -> Trace:
    trace = Trace(path, "bpftrace")
    script_probes: list[str] = []
    for line in lines:
        if "bpftrace" in line or line.lstrip().startswith(("kprobe:", "kretprobe:")):
            script_probes += [m.group(2) for m in _BPF_PROBE.finditer(line) if not m.group(1)]
    if probe is None and len(set(script_probes)) == 1:
        probe = script_probes[0]
    if probe is not None and probe not in HANDLERS:
        raise InputError(path, f"probe {probe!r} is not a KVM ioctl handler ({', '.join(sorted(HANDLERS))})")
    trace.probe = probe
    filp_class: dict[str, str] = {}  # a struct file is one fd class for its whole life
    for no, line in enumerate(lines, 1):
        if "bpftrace" in line or "printf(" in line or line.startswith("Attaching"):
            continue
        pm = _BPF_PROBE.search(line)
        func = pm.group(2) if pm else next((h for h in HANDLERS if re.search(rf"\b{h}\b", line)), None)
        if pm and pm.group(1):  # kretprobe: return value of the last call into that handler
            rm = _BPF_RET.search(line)
            if rm:
                for ev in reversed(trace.events):
                    if ev.via == f"kprobe:{func}" and ev.ret is None:
                        ev.ret = int(rm.group(1))
                        break
            continue
        cm = _BPF_CMD.search(line)
        if not cm:
            continue
        cmd = int(cm.group(1), 16)
        if cmd >> 8 & 0xFF != K.KVMIO:
            trace.skipped += 1
            continue
        handler = func or probe
        if handler is None:
            raise InputError(path, "cannot tell which kernel function this trace probed: pass --probe "
                                   "kvm_arch_vcpu_ioctl (or kvm_arch_dev_ioctl, ...), or keep the bpftrace "
                                   "command line in the file", line=no)
        if handler not in HANDLERS:
            trace.skipped += 1
            continue
        ev = Event(no, cmd, HANDLERS[handler], f"kprobe:{handler}")
        fm = _BPF_FILE.search(line)
        if fm:
            ev.issued_on = _file_class(fm.group(1))
        rm = _BPF_RET.search(line)
        if rm:
            ev.ret = int(rm.group(1))
        am = re.search(r"\barg\s*[:=]?\s*((?:0x)?[0-9a-fA-F]+)", line)
        if am:
            ev.arg = am.group(1)
        fp = re.search(r"\b(?:flip|filp|file)\s*[:=]?\s*(?:0x)?([0-9a-fA-F]{6,16})\b", line)
        if fp:
            first = filp_class.setdefault(fp.group(1).lower(), ev.cls)
            if ev.issued_on is None and first != ev.cls:
                ev.issued_on = first  # the same file was seen at another class's handler earlier
        trace.events.append(ev)
    return trace


# --------------------------------------------------------------------------------------------
# strace

_ST_PREFIX = r"^(?:\[pid\s+(?P<pid>\d+)\]\s+|(?P<pid2>\d+)\s+)?(?:[\d:.]+\s+)?"
_ST_IOCTL = re.compile(_ST_PREFIX + r"ioctl\((?P<fd>\d+)(?:<(?P<fdpath>[^>]*)>)?,\s*(?P<req>_IOC\([^)]*\)|[^,)]+)"
                       r"(?:,\s*(?P<arg>.*?))?\)\s*=\s*(?P<ret>-?\d+|\?)(?:<(?P<retpath>[^>]*)>)?"
                       r"(?:\s+(?P<errno>E[A-Z0-9]+))?")
_ST_OPEN = re.compile(_ST_PREFIX + r"open(?:at)?\(.*?\"(?P<path>[^\"]+)\".*\)\s*=\s*(?P<fd>\d+)")
_ST_CLOSE = re.compile(_ST_PREFIX + r"close\((?P<fd>\d+)")
_ST_UNFINISHED = re.compile(_ST_PREFIX + r"(?P<head>.*)\s*<unfinished \.\.\.>\s*$")
_ST_RESUMED = re.compile(_ST_PREFIX + r"<\.\.\. (?P<call>\w+) resumed>\s*(?P<tail>.*)$")
_IOC = re.compile(r"_IOC\((?P<dir>[^,]+),\s*(?P<type>0x[0-9a-fA-F]+),\s*(?P<nr>0x[0-9a-fA-F]+),\s*"
                  r"(?P<size>0x[0-9a-fA-F]+|\d+)\)")


def _path_class(path: str) -> str | None:
    if path == "/dev/kvm":
        return "dev"
    if path.startswith("anon_inode:kvm-vcpu"):
        return "vcpu"
    if path == "anon_inode:kvm-vm":
        return "vm"
    if path.startswith("anon_inode:kvm-"):
        return "device"
    return None


def _request(text: str) -> int | None:
    text = text.strip()
    if text.startswith("KVM_"):
        ioc = K.by_name().get(text)
        return ioc.value if ioc else None
    m = _IOC.match(text)
    if m:
        d = 0
        if "_IOC_WRITE" in m.group("dir"):
            d |= 1
        if "_IOC_READ" in m.group("dir"):
            d |= 2
        return d << 30 | int(m.group("size"), 0) << 16 | int(m.group("type"), 16) << 8 | int(m.group("nr"), 16)
    try:
        return int(text, 0)
    except ValueError:
        return None


def _parse_strace(path: str, lines: list[str]) -> Trace:
    trace = Trace(path, "strace")
    fd_class: dict[tuple[str, int], str] = {}  # (process key, fd) -> class; threads share fds, keep it simple
    pending: dict[str, str] = {}
    caps = K.capabilities()
    cap_by_number = {v: k for k, v in caps.items()}
    for no, raw in enumerate(lines, 1):
        line = raw
        # Only lines that end in the marker can match; testing first keeps junk lines from the
        # pattern's cubic backtracking (prefix alternatives x `.*` beside `\s*`).
        um = _ST_UNFINISHED.match(line) if line.rstrip().endswith("<unfinished ...>") else None
        if um:
            pending[um.group("pid") or um.group("pid2") or ""] = um.group("head")
            continue
        rm = _ST_RESUMED.match(line)
        if rm:
            head = pending.pop(rm.group("pid") or rm.group("pid2") or "", None)
            if head is None:
                continue
            line = head + rm.group("tail")
        om = _ST_OPEN.match(line)
        if om:
            cls = _path_class(om.group("path"))
            if cls:
                fd_class[("", int(om.group("fd")))] = cls
            else:
                fd_class.pop(("", int(om.group("fd"))), None)
            continue
        cm = _ST_CLOSE.match(line)
        if cm:
            fd_class.pop(("", int(cm.group("fd"))), None)
            continue
        im = _ST_IOCTL.match(line)
        if not im:
            continue
        fd = int(im.group("fd"))
        cls = _path_class(im.group("fdpath")) if im.group("fdpath") else fd_class.get(("", fd))
        cmd = _request(im.group("req"))
        if cmd is None or cmd >> 8 & 0xFF != K.KVMIO or cls is None:
            trace.skipped += 1
            continue
        ret_text = im.group("ret")
        ret = None if ret_text == "?" else int(ret_text)
        if ret == -1 and im.group("errno"):
            ret = -ERRNO.get(im.group("errno"), 1)
        via = f"fd {fd}<{im.group('fdpath')}>" if im.group("fdpath") else f"fd {fd} ({CLASS_LABEL[cls]}, tracked)"
        ev = Event(no, cmd, cls, via, ret, im.group("arg"))
        trace.events.append(ev)
        name = _name(cmd)
        # New fds: the VM and vCPU fds are the return values of their creating ioctls.
        if ret is not None and ret >= 0:
            if name == "KVM_CREATE_VM":
                fd_class[("", ret)] = "vm"
            elif name == "KVM_CREATE_VCPU":
                fd_class[("", ret)] = "vcpu"
        if name == "KVM_CHECK_EXTENSION" and ret is not None and im.group("arg"):
            arg = im.group("arg").strip()
            cap = arg if arg.startswith("KVM_CAP_") else None
            if cap is None:
                try:
                    cap = cap_by_number.get(int(arg, 0))
                except ValueError:
                    cap = None
            if cap:
                trace.caps[cap] = (ret, no, cls)
    return trace


# --------------------------------------------------------------------------------------------
# Analysis

def _kernel_older(kernel: str | None, since: str) -> bool:
    if kernel is None or since.startswith("~") or since == "basic":
        return False
    have = version_key(kernel.split("-")[0])
    return bool(have) and have < version_key(since)


def _since_text(since: str | None) -> str:
    return "the original API" if since == "basic" else str(since)


def analyse_trace(trace: Trace) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple] = set()
    for ev in trace.events:
        res = K.lookup(ev.cmd)
        if not res.matches:
            continue
        ioc = res.matches[0]
        if ioc.classes is None or ev.cls is None:
            continue
        key = (ioc.name, ev.cls, ev.ret, ev.issued_on)
        if key in seen:
            continue
        seen.add(key)
        f = _check_event(trace, ev, ioc)
        if f is not None:
            findings.append(f)
    return findings


def _check_event(trace: Trace, ev: Event, ioc: K.Ioctl) -> Finding | None:
    assert ioc.classes is not None
    cls = ev.cls
    assert cls is not None
    label = CLASS_LABEL[cls]
    where = f"{ioc.name} ({ioc.value:#010x})"
    locs = [Location(trace.path, ev.line, detail=ev.via)]
    data = {"ioctl": ioc.name, "value": ioc.value, "fd_class": cls, "via": ev.via, "ret": ev.ret,
            "kernel": trace.kernel}
    since = ioc.classes.since(cls)
    accepted = [f"{CLASS_LABEL[c]} (since {_since_text(ioc.classes.since(c))})" for c in ("dev", "vm", "vcpu", "device")
                if ioc.classes.since(c)]
    outcome = "" if ev.ret is None else (f"; it returned {ev.ret}" + (f" ({ev.errno_name()})" if ev.errno_name() else ""))
    if ev.issued_on is not None and ev.issued_on != cls:
        return Finding("X010", f"{where} was issued on {CLASS_LABEL[ev.issued_on]} but reached the {label} "
                               f"handler ({ev.via}){outcome}", locations=locs, data=data,
                       fix=f"the case belongs to the {CLASS_LABEL[ev.issued_on]} handler")
    if since is None:
        return Finding("X010", f"{where} reached the {label} handler ({ev.via}), which never implements it on x86 "
                               f"(it is accepted on {', '.join(accepted) or 'no x86 fd'}){outcome}; x86 returns "
                               f"-{UNKNOWN_ERRNO[cls]} there"
                               + (" — yet it succeeded: a backport put the case in the wrong handler"
                                  if ev.ret is not None and ev.ret >= 0 else ""),
                       locations=locs, data=data,
                       fix=f"issue it on {' or '.join(a.split(' (')[0] for a in accepted)}" if accepted else None)
    if _kernel_older(trace.kernel, since) and not (ev.ret is not None and ev.ret >= 0 and cls == "dev"):
        klocs = locs + ([Location(trace.path, trace.kernel_line, detail="kernel release")] if trace.kernel_line else [])
        note = f" ({ioc.classes.note})" if ioc.classes.note else ""
        if ev.ret is not None and ev.ret >= 0:
            msg = (f"{where} succeeded in the {label} handler on kernel {trace.kernel}, but upstream implements it "
                   f"there only since {since}{note}: a backport added this case — check it belongs to the {label} "
                   f"and not to {' / '.join(a for a in accepted if not a.startswith(label))}")
        else:
            msg = (f"{where} reached the {label} handler ({ev.via}) on kernel {trace.kernel}; upstream implements it "
                   f"there only since {since}{note}{outcome}. Either the caller used the wrong fd, or a backport put "
                   f"the case in this handler (the AMX XSETBV incident: the system attribute of dd6e63122018 landed in "
                   f"kvm_arch_vcpu_ioctl instead of kvm_arch_dev_ioctl)")
        return Finding("X010", msg, locations=klocs, data={**data, "since": since},
                       fix="compare the handler's case list with upstream (hvcheck backport)")
    if ev.failed and ev.errno_name() in ("EINVAL", "ENOTTY"):
        if ev.errno_name() == "EINVAL" and not ioc.classes.einval_is_dispatch:
            return None
        cap = ioc.classes.caps.get(cls)
        got = trace.caps.get(cap) if cap else None
        if got is not None and got[0] > 0:
            return Finding(
                "X010",
                f"{where} on {label} failed with -{ev.errno_name()} although KVM_CHECK_EXTENSION({cap}) returned "
                f"{got[0]} at line {got[1]}: the {label} handler advertises the capability but has no case for "
                f"the ioctl (x86 returns -{UNKNOWN_ERRNO[cls]} for unknown requests there)",
                locations=locs + [Location(trace.path, got[1], detail=f"KVM_CHECK_EXTENSION({cap}) = {got[0]}")],
                data={**data, "capability": cap, "capability_value": got[0]},
                fix="add the case to the handler the capability describes (compare with upstream: hvcheck backport)",
                severity=Severity.ERROR)
    return None
