"""X010: a KVM ioctl in a trace reached a file-descriptor class that does not implement it
(traces come from :mod:`hvcheck.x86.trace_readers`)."""

from __future__ import annotations

from hvcheck.findings import Finding, Location, Severity, declare_rule
from hvcheck.x86 import kvm_ioctls as K
from hvcheck.x86.kvm_fd_classes import CLASS_LABEL, UNKNOWN_ERRNO, version_key
from hvcheck.x86.trace_readers import Event, Trace

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("X010", "a KVM ioctl reached a file-descriptor class that does not implement it", Severity.ERROR, "x86")

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
    first_match: dict[int, K.Ioctl | None] = {}  # one table lookup per distinct request word
    for ev in trace.events:
        if ev.cmd not in first_match:
            matches = K.lookup(ev.cmd).matches
            first_match[ev.cmd] = matches[0] if matches else None
        ioc = first_match[ev.cmd]
        if ioc is None:
            continue
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
