"""Readers of KVM ioctl traces (bpftrace kprobe output, strace logs) -> :class:`Trace`; the check
that finds misrouted ioctls in them (X010) is :mod:`hvcheck.x86.trace_rules`.

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
from hvcheck.inputs import read_capped
from hvcheck.x86 import kvm_ioctls as K
from hvcheck.x86.kvm_fd_classes import CLASS_LABEL, HANDLERS

MAX_TRACE_BYTES = 256 << 20
MAX_TRACE_LINE = 4096  # characters of one trace line that are parsed
ERRNO = {"EINVAL": 22, "ENOTTY": 25, "ENXIO": 6, "EFAULT": 14, "E2BIG": 7, "EPERM": 1, "EBUSY": 16,
         "ENOMEM": 12, "EOPNOTSUPP": 95, "EEXIST": 17, "ENOENT": 2, "EAGAIN": 11, "EINTR": 4, "EIO": 5}
ERRNO_NAME = {v: k for k, v in ERRNO.items()}


@dataclass(slots=True)
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


_KERNEL_COMMENT = re.compile(r"^\s*#\s*kernel:\s*(\S+)")
_STRACE_IOCTL = re.compile(r"(^|\s|\])ioctl\(\d+")


def _find_kernel(lines: list[str]) -> tuple[str | None, int | None]:
    for no, line in enumerate(lines, 1):
        # substring tests first: a trace line without these words cannot match (linear, cheap)
        if "uname -r" in line and line.rstrip().endswith("uname -r") and no < len(lines):
            m = _KERNEL_REL.match(lines[no])
            if m:
                return m.group(1), no + 1
        if "Linux" in line:
            m = _UNAME_A.match(line) or _LINUX_VERSION.search(line)
            if m:
                return m.group(1), no
        if "kernel" in line:
            m = _KERNEL_COMMENT.match(line)
            if m:
                return m.group(1), no
    return None, None


def read_trace(path: str, probe: str | None = None, kernel: str | None = None) -> Trace:
    lines = _read(path)
    is_strace = any("ioctl(" in ln and _STRACE_IOCTL.search(ln) for ln in lines)
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

# Each pattern starts with a literal and checks the word boundary *behind* it (`ret(?<=\bret)`
# rather than `\bret`): `re` then scans for the literal at C speed instead of trying the whole
# pattern at every position, 3-4x faster per line on 200k-line traces. The plain forms are kept
# as the specification in tests/x86/test_ioctl_trace.py, which checks both match alike.
_BPF_CMD = re.compile(r"(?:ioctl(?<=\bioctl)|cmd(?<=\bcmd))\s*[:=]?\s*(?:0x)?([0-9a-fA-F]{1,8})\b")
_BPF_RET = re.compile(r"ret(?<=\bret)(?:val)?\s*[:=]?\s*(-?\d+)")
_BPF_PROBE = re.compile(r"k(?<=\bk)(ret)?probe:(\w+)")
_BPF_KPROBE = re.compile(r"kprobe:(?<=\bkprobe:)(\w+)")  # _BPF_PROBE without kretprobes
_BPF_FILE = re.compile(r"(/dev/kvm|kvm-vcpu:\d+|kvm-vm)\b")
_FILE_CLASS = {"/dev/kvm": "dev", "kvm-vm": "vm"}
# every handler name starts with "kvm_", so that literal leads the alternation of the rest
_BPF_HANDLER = re.compile(r"kvm_(?<=\bkvm_)(" + "|".join(sorted((re.escape(h.removeprefix("kvm_")) for h in HANDLERS),
                                                                key=len, reverse=True)) + r")\b")
_BPF_ARG = re.compile(r"arg(?<=\barg)\s*[:=]?\s*((?:0x)?[0-9a-fA-F]+)")
_BPF_FILP = re.compile(r"f(?<=\bf)(?:lip|ilp|ile)\s*[:=]?\s*(?:0x)?([0-9a-fA-F]{6,16})\b")


def _file_class(name: str) -> str:
    return "vcpu" if name.startswith("kvm-vcpu") else _FILE_CLASS[name]


def _parse_bpftrace(path: str, lines: list[str], probe: str | None) -> Trace:
    trace = Trace(path, "bpftrace")
    # The probes named by the bpftrace command/script saved in the file. Only the set matters; one
    # findall over the joined candidate lines instead of a finditer per line (150k probe lines).
    script_lines = [ln for ln in lines if "bpftrace" in ln or ln.lstrip().startswith(("kprobe:", "kretprobe:"))]
    script_probes = set(_BPF_KPROBE.findall("\n".join(script_lines)))
    if probe is None and len(script_probes) == 1:
        (probe,) = script_probes
    if probe is not None and probe not in HANDLERS:
        raise InputError(path, f"probe {probe!r} is not a KVM ioctl handler ({', '.join(sorted(HANDLERS))})")
    trace.probe = probe
    filp_class: dict[str, str] = {}  # a struct file is one fd class for its whole life
    unreturned: dict[str, list[Event]] = {}  # per handler, calls still waiting for their kretprobe
    events = trace.events
    vias: dict[str, str] = {}
    probe_search, handler_search = _BPF_PROBE.search, _BPF_HANDLER.search
    cmd_search, ret_search, arg_search = _BPF_CMD.search, _BPF_RET.search, _BPF_ARG.search
    file_search, filp_search = _BPF_FILE.search, _BPF_FILP.search
    # Substring tests before each pattern: most lines lack most fields, and `in` is far cheaper
    # than a regex search; each test is implied by its pattern, so results are the same.
    for no, line in enumerate(lines, 1):
        if "bpftrace" in line or "printf(" in line or line.startswith("Attaching"):
            continue
        pm = probe_search(line) if "probe:" in line else None
        hm = None if pm or "kvm_" not in line else handler_search(line)
        func = pm.group(2) if pm else "kvm_" + hm.group(1) if hm else None
        if pm and pm.group(1):  # kretprobe: return value of the last call into that handler
            rm = ret_search(line) if "ret" in line else None
            pending = unreturned.get(f"kprobe:{func}")
            if rm and pending:
                pending.pop().ret = int(rm.group(1))
            continue
        cm = cmd_search(line) if "ioctl" in line or "cmd" in line else None
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
        cls = HANDLERS.get(handler)
        if cls is None:
            trace.skipped += 1
            continue
        via = vias.get(handler)
        if via is None:
            via = vias[handler] = f"kprobe:{handler}"  # one string per handler, not per event
        ev = Event(no, cmd, cls, via)
        fm = file_search(line) if "/dev/kvm" in line or "kvm-v" in line else None
        if fm:
            ev.issued_on = _file_class(fm.group(1))
        rm = ret_search(line) if "ret" in line else None
        if rm:
            ev.ret = int(rm.group(1))
        else:
            unreturned.setdefault(via, []).append(ev)
        am = arg_search(line) if "arg" in line else None
        if am:
            ev.arg = am.group(1)
        fp = filp_search(line) if "flip" in line or "filp" in line or "file" in line else None
        if fp:
            first = filp_class.setdefault(fp.group(1).lower(), cls)
            if ev.issued_on is None and first != cls:
                ev.issued_on = first  # the same file was seen at another class's handler earlier
        events.append(ev)
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
    # A trace repeats a handful of requests: decode each spelling and name each word once.
    requests: dict[str, int | None] = {}
    names: dict[int, str] = {}
    for no, raw in enumerate(lines, 1):
        line = raw
        # Only lines that end in the marker can match; testing first keeps junk lines from the
        # pattern's cubic backtracking (prefix alternatives x `.*` beside `\s*`).
        um = _ST_UNFINISHED.match(line) if line.rstrip().endswith("<unfinished ...>") else None
        if um:
            pending[um.group("pid") or um.group("pid2") or ""] = um.group("head")
            continue
        rm = _ST_RESUMED.match(line) if "resumed>" in line else None
        if rm:
            head = pending.pop(rm.group("pid") or rm.group("pid2") or "", None)
            if head is None:
                continue
            line = head + rm.group("tail")
        om = _ST_OPEN.match(line) if "open" in line else None
        if om:
            cls = _path_class(om.group("path"))
            if cls:
                fd_class[("", int(om.group("fd")))] = cls
            else:
                fd_class.pop(("", int(om.group("fd"))), None)
            continue
        cm = _ST_CLOSE.match(line) if "close(" in line else None
        if cm:
            fd_class.pop(("", int(cm.group("fd"))), None)
            continue
        im = _ST_IOCTL.match(line) if "ioctl(" in line else None
        if not im:
            continue
        fd = int(im.group("fd"))
        cls = _path_class(im.group("fdpath")) if im.group("fdpath") else fd_class.get(("", fd))
        req = im.group("req")
        cmd = requests[req] if req in requests else requests.setdefault(req, _request(req))
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
        name = names.get(cmd) or names.setdefault(cmd, _name(cmd))
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
