"""What a KVM host answered: the probe record, its JSON form (``--save`` / ``--from``) and its reader.

A record holds only facts — every ioctl issued, on which fd class, with which argument, and what it
returned — plus the host's identity (kernel release, machine, KVM modules) and the XSETBV runs of
the micro-guest. What the answers *mean* lives in :mod:`hvcheck.kvm.checks`, so a record saved
today is judged with tomorrow's knowledge, and a record of a broken host (attached to a bug report,
or written for a test) is checked exactly like a live one.

The JSON file keeps one answer per line, so every finding can cite ``probe.json:LINE``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.inputs import read_capped

FORMAT = "hvcheck-kvm-probe"
VERSION = 1
MAX_PROBE_BYTES = 16 << 20
MAX_ANSWERS = 20000
CLASSES = ("dev", "vm", "vcpu")
CLASS_LABEL = {"dev": "/dev/kvm", "vm": "VM fd", "vcpu": "vCPU fd"}

CpuidEntry = tuple[int, int, int, int, int, int, int]  # function, index, flags, eax, ebx, ecx, edx


@dataclass
class Answer:
    """One ioctl and its answer. ``errno`` is the positive errno of a failure, else None."""

    n: int
    fd: str
    ioctl: str
    ret: int | None
    errno: int | None = None
    arg: dict[str, Any] = field(default_factory=dict)
    out: dict[str, Any] = field(default_factory=dict)
    line: int | None = None  # line in a saved probe

    @property
    def ok(self) -> bool:
        return self.errno is None

    def result_text(self) -> str:
        if self.ok:
            return f"= {self.ret}"
        return f"= -{errno_name(self.errno)}"

    def call_text(self) -> str:
        arg = ", ".join(f"{k} {_short(k, v)}" for k, v in self.arg.items() if k != "entries")
        return f"{self.ioctl}({arg}) on {CLASS_LABEL.get(self.fd, self.fd)}"


HEX_ARGS = frozenset({"xcr0", "addr", "gpa", "eip", "esp"})


def _short(key: str, value: Any) -> str:
    if key in HEX_ARGS and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:#x}"
    return str(value)


def errno_name(number: int | None) -> str:
    import errno

    if number is None:
        return "0"
    return errno.errorcode.get(number, str(number))


@dataclass
class XsetbvRun:
    """One run of the micro-guest: set CR4.OSXSAVE, load EDX:EAX = value, XSETBV, report."""

    value: int
    cpuid: str                      # where the guest CPUID came from
    cpuid_xcr0: int | None          # the guest's CPUID.(0DH,0):EDX:EAX
    cpuid_xsave: bool               # the guest's CPUID.1:ECX[26] XSAVE
    outcome: str                    # "accepted" | "exception" | "error"
    vector: int | None = None
    error_code: int | None = None
    rip: int | None = None
    at: str | None = None           # the instruction the exception hit: "xsetbv", "mov cr4", ...
    xcr0_after: int | None = None   # KVM_GET_XCRS after the run
    cr4_after: int | None = None
    exits: list[str] = field(default_factory=list)
    detail: str = ""                # for "error": what stopped the run
    line: int | None = None

    def verdict(self) -> str:
        """'#GP(0)', '#UD', 'accepted' or 'error: ...' — the vCPU's answer."""
        if self.outcome == "accepted":
            return "accepted"
        if self.outcome == "exception" and self.vector is not None:
            name = VECTOR_NAMES.get(self.vector, f"vector {self.vector}")
            return f"{name}({self.error_code})" if self.error_code is not None else name
        return f"error: {self.detail}"


VECTOR_NAMES = {0: "#DE", 1: "#DB", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF", 10: "#TS",
                11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 18: "#MC", 19: "#XM",
                21: "#CP"}


@dataclass
class Probe:
    device: str
    kernel: str
    machine: str
    modules: list[str] = field(default_factory=list)
    under_hypervisor: bool | None = None  # the host itself is a guest (CPUID.1:ECX[31])
    answers: list[Answer] = field(default_factory=list)
    runs: list[XsetbvRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # steps that could not be taken, and why
    recorded_by: str = ""
    table: str = ""                 # the header the request numbers came from
    source: str | None = None       # the saved file, when replayed
    _cap_index: tuple[int, dict[tuple[str, str], Answer]] | None = field(default=None, repr=False, compare=False)

    # -- lookups -------------------------------------------------------------------------
    def find(self, ioctl: str, fd: str | None = None, **arg: Any) -> list[Answer]:
        return [a for a in self.answers if a.ioctl == ioctl and (fd is None or a.fd == fd)
                and all(a.arg.get(k) == v for k, v in arg.items())]

    def first(self, ioctl: str, fd: str | None = None, **arg: Any) -> Answer | None:
        found = self.find(ioctl, fd, **arg)
        return found[0] if found else None

    def cap(self, name: str, fd: str = "dev") -> Answer | None:
        """The KVM_CHECK_EXTENSION answer for capability ``name`` on ``fd`` (dev or vm)."""
        if self._cap_index is None or self._cap_index[0] != len(self.answers):
            index: dict[tuple[str, str], Answer] = {}
            for a in self.answers:
                if a.ioctl == "KVM_CHECK_EXTENSION" and isinstance(a.arg.get("cap"), str):
                    index.setdefault((a.fd, a.arg["cap"]), a)
            self._cap_index = (len(self.answers), index)
        return self._cap_index[1].get((fd, name))

    def where(self, answer: Answer | None = None, run: XsetbvRun | None = None) -> Location:
        """Provenance of one answer: the saved file and line, or the live device, with the call."""
        release = f"Linux {self.kernel}"
        if answer is not None:
            detail = f"{answer.call_text()} {answer.result_text()}; {release}"
            line = answer.line
        elif run is not None:
            detail = f"micro-guest XSETBV({run.value:#x}); {release}"
            line = run.line
        else:
            detail, line = release, None
        if self.source is not None:
            return Location(self.source, line, detail=detail)
        return Location(self.device, None, detail=detail)

    # -- JSON ----------------------------------------------------------------------------
    def to_json_text(self) -> str:
        """The saved form: a JSON object with one answer (and one run) per line."""
        head = {"format": FORMAT, "version": VERSION, "device": self.device, "kernel": self.kernel,
                "machine": self.machine, "modules": self.modules, "under_hypervisor": self.under_hypervisor,
                "recorded_by": self.recorded_by, "table": self.table, "notes": self.notes}
        lines = ["{"]
        lines += [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
        lines.append(' "answers": [')
        for i, a in enumerate(self.answers):
            row = {"n": a.n, "fd": a.fd, "ioctl": a.ioctl, "ret": a.ret, "errno": a.errno, "arg": a.arg,
                   "out": a.out}
            if a.errno is not None:
                row["errno_name"] = errno_name(a.errno)
            lines.append("  " + json.dumps(row) + ("," if i + 1 < len(self.answers) else ""))
        lines.append(" ],")
        lines.append(' "runs": [')
        for i, r in enumerate(self.runs):
            row = {k: v for k, v in r.__dict__.items() if k != "line"}
            lines.append("  " + json.dumps(row) + ("," if i + 1 < len(self.runs) else ""))
        lines.append(" ]")
        lines.append("}")
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Reader

_ANSWER_LINE = re.compile(r'^\s*\{"n":\s*(\d+),')
_RUN_LINE = re.compile(r'^\s*\{"value":')


def read_probe(path: str) -> Probe:
    """A saved probe, validated field by field (InputError naming the answer on bad input)."""
    raw = read_capped(path, MAX_PROBE_BYTES, "saved KVM probes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text; expected a probe saved by `hvcheck kvm --save`") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except (RecursionError, ValueError) as exc:
        raise InputError(path, f"invalid JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(path, f'not a saved KVM probe (want a JSON object with "format": "{FORMAT}")')
    if doc.get("version") != VERSION:
        raise InputError(path, f"probe format version {doc.get('version')!r}; this hvcheck reads version {VERSION}")
    answer_lines: dict[int, int] = {}
    run_lines: list[int] = []
    for no, line in enumerate(text.splitlines(), 1):
        m = _ANSWER_LINE.match(line)
        if m:
            answer_lines.setdefault(int(m.group(1)), no)
        elif _RUN_LINE.match(line):
            run_lines.append(no)
    probe = Probe(device=_str(path, doc, "device"), kernel=_str(path, doc, "kernel"),
                  machine=_str(path, doc, "machine"), source=path)
    probe.modules = _str_list(path, doc, "modules")
    probe.notes = _str_list(path, doc, "notes")
    uh = doc.get("under_hypervisor")
    if uh is not None and not isinstance(uh, bool):
        raise InputError(path, '"under_hypervisor" must be true, false or null')
    probe.under_hypervisor = uh
    probe.recorded_by = str(doc.get("recorded_by", ""))
    probe.table = str(doc.get("table", ""))
    answers = doc.get("answers")
    if not isinstance(answers, list):
        raise InputError(path, '"answers" must be a list')
    if len(answers) > MAX_ANSWERS:
        raise InputError(path, f"{len(answers)} answers; at most {MAX_ANSWERS} are read (docs/limits.md)")
    for i, row in enumerate(answers):
        probe.answers.append(_answer(path, row, i, answer_lines))
    runs = doc.get("runs", [])
    if not isinstance(runs, list):
        raise InputError(path, '"runs" must be a list')
    for i, row in enumerate(runs[:MAX_ANSWERS]):
        probe.runs.append(_run(path, row, i, run_lines[i] if i < len(run_lines) else None))
    return probe


def _str(path: str, doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(path, f"missing or empty {key!r}")
    return value


def _str_list(path: str, doc: dict[str, Any], key: str) -> list[str]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(path, f"{key!r} must be a list of strings")
    return list(value)


def _int(path: str, line: int | None, what: str, value: Any, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(path, f"{what} must be an integer, not {json.dumps(value)[:40]}", line)
    if not -(1 << 64) < value < 1 << 64:
        raise InputError(path, f"{what} {value} does not fit in 64 bits", line)
    return value


def _answer(path: str, row: Any, i: int, lines: dict[int, int]) -> Answer:
    if not isinstance(row, dict):
        raise InputError(path, f"answer #{i}: expected an object")
    n = _int(path, None, f"answer #{i}: n", row.get("n", i), optional=False)
    assert n is not None
    line = lines.get(n)
    fd, ioctl = row.get("fd"), row.get("ioctl")
    if fd not in CLASSES:
        raise InputError(path, f"answer #{i}: fd must be one of {', '.join(CLASSES)}", line)
    if not isinstance(ioctl, str) or not ioctl.startswith("KVM_"):
        raise InputError(path, f"answer #{i}: ioctl must be a KVM_* name", line)
    ret = _int(path, line, f"answer #{i}: ret", row.get("ret"))
    err = _int(path, line, f"answer #{i}: errno", row.get("errno"))
    if (ret is None) == (err is None):
        raise InputError(path, f"answer #{i}: exactly one of ret and errno must be set", line)
    if err is not None and not 0 < err < 4096:
        raise InputError(path, f"answer #{i}: errno {err} is not an errno", line)
    arg, out = row.get("arg", {}), row.get("out", {})
    if not isinstance(arg, dict) or not isinstance(out, dict):
        raise InputError(path, f"answer #{i}: arg and out must be objects", line)
    answer = Answer(n, fd, ioctl, ret, err, arg, out, line)
    _check_payload(path, answer)
    return answer


def _check_payload(path: str, a: Answer) -> None:
    """The decoded outputs the checks read must have the right shape."""
    for key in ("value", "xcr0", "size"):
        if key in a.out:
            _int(path, a.line, f"{a.ioctl} out.{key}", a.out[key])
    if "xcrs" in a.out:
        xcrs = a.out["xcrs"]
        if not isinstance(xcrs, dict):
            raise InputError(path, f"{a.ioctl}: out.xcrs must be an object", a.line)
        for k, v in xcrs.items():
            if not k.isdigit():
                raise InputError(path, f"{a.ioctl}: XCR index {k!r} is not a number", a.line)
            _int(path, a.line, f"{a.ioctl} XCR{k}", v, optional=False)
    for where in (a.arg, a.out):
        if "entries" in where:
            entries_of(path, a.line, where["entries"])


def entries_of(path: str | None, line: int | None, value: Any) -> list[CpuidEntry]:
    """CPUID entries as saved: lists of 7 integers (function, index, flags, eax, ebx, ecx, edx)."""
    if not isinstance(value, list):
        raise InputError(path, "CPUID entries must be a list", line)
    out: list[CpuidEntry] = []
    for e in value:
        if (not isinstance(e, list) or len(e) != 7 or
                not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 1 << 32 for x in e)):
            raise InputError(path, "a CPUID entry must be 7 unsigned 32-bit integers "
                                   "(function, index, flags, eax, ebx, ecx, edx)", line)
        out.append((e[0], e[1], e[2], e[3], e[4], e[5], e[6]))
    return out


_RUN_INTS = ("value", "cpuid_xcr0", "vector", "error_code", "rip", "xcr0_after", "cr4_after")


def _run(path: str, row: Any, i: int, line: int | None) -> XsetbvRun:
    if not isinstance(row, dict):
        raise InputError(path, f"run #{i}: expected an object", line)
    ints = {k: _int(path, line, f"run #{i}: {k}", row.get(k), optional=k != "value") for k in _RUN_INTS}
    value = ints.pop("value")
    assert value is not None
    outcome = row.get("outcome")
    if outcome not in ("accepted", "exception", "error"):
        raise InputError(path, f"run #{i}: outcome must be accepted, exception or error", line)
    at = row.get("at")
    if at is not None and not isinstance(at, str):
        raise InputError(path, f"run #{i}: at must be a string", line)
    exits = row.get("exits", [])
    if not isinstance(exits, list) or not all(isinstance(x, str) for x in exits):
        raise InputError(path, f"run #{i}: exits must be a list of strings", line)
    return XsetbvRun(value=value, cpuid=str(row.get("cpuid", "")), cpuid_xcr0=ints["cpuid_xcr0"],
                     cpuid_xsave=bool(row.get("cpuid_xsave")), outcome=outcome, vector=ints["vector"],
                     error_code=ints["error_code"], rip=ints["rip"], at=at,
                     xcr0_after=ints["xcr0_after"], cr4_after=ints["cr4_after"], exits=list(exits),
                     detail=str(row.get("detail", "")), line=line)
