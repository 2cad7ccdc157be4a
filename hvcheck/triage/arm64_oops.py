"""Linux arm64 "Unable to handle kernel ..." / "Internal error: Oops" reader (log-formats.md §5),
with its own ESR decoder (Arm ARM D17.2.37 ESR_ELx), and the RISC-V Linux variant
(``Oops - illegal instruction``, ``epc :`` / ``badaddr:`` / ``cause:``), which shares the header.

Under a partitioning hypervisor, a *synchronous external abort* (DFSC/IFSC 0x10, or EA = 1) or
an SError on a guest access means the hypervisor injected an abort for an IPA it does not map:
a stage-2 hole. Translation and permission faults are the guest's own (stage 1).
"""

from __future__ import annotations

import re

from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev, to_int
from hvcheck.triage.source import LogLine

MAX_BLOCK_LINES = 100

EC_NAMES = {0x00: "unknown reason", 0x01: "WFI/WFE", 0x07: "SIMD/FP access", 0x0E: "illegal execution state",
            0x15: "SVC64", 0x16: "HVC64", 0x17: "SMC64", 0x18: "MSR/MRS/system instruction",
            0x20: "IABT (lower EL)", 0x21: "IABT (current EL)", 0x22: "PC alignment",
            0x24: "DABT (lower EL)", 0x25: "DABT (current EL)", 0x26: "SP alignment",
            0x2F: "SError", 0x3C: "BRK"}


def fsc_name(fsc: int) -> str:
    level = fsc & 3
    if 0x04 <= fsc <= 0x07:
        return f"level {level} translation fault"
    if 0x09 <= fsc <= 0x0B:
        return f"level {level} access flag fault"
    if 0x0D <= fsc <= 0x0F:
        return f"level {level} permission fault"
    if 0x00 <= fsc <= 0x03:
        return f"level {level} address size fault"
    return {0x10: "synchronous external abort", 0x11: "synchronous tag check fault",
            0x14: "synchronous external abort on table walk (level 0)",
            0x15: "synchronous external abort on table walk (level 1)",
            0x16: "synchronous external abort on table walk (level 2)",
            0x17: "synchronous external abort on table walk (level 3)",
            0x18: "synchronous parity/ECC error", 0x21: "alignment fault", 0x30: "TLB conflict abort",
            0x31: "unsupported atomic hardware update"}.get(fsc, f"fault status {fsc:#x}")


def decode_esr(esr: int) -> dict[str, object]:
    ec = (esr >> 26) & 0x3F
    iss = esr & 0x1FFFFFF
    out: dict[str, object] = {"ec": ec, "ec_name": EC_NAMES.get(ec, f"EC {ec:#x}"),
                              "il": 32 if esr >> 25 & 1 else 16, "iss": iss}
    if ec in (0x20, 0x21, 0x24, 0x25):
        fsc = iss & 0x3F
        out.update(fsc=fsc, fsc_name=fsc_name(fsc), ea=iss >> 9 & 1, s1ptw=iss >> 7 & 1, fnv=iss >> 10 & 1)
        if ec in (0x24, 0x25):
            isv = iss >> 24 & 1
            out.update(isv=isv, wnr=iss >> 6 & 1, cm=iss >> 8 & 1)
            if isv:
                out.update(access_size=1 << (iss >> 22 & 3), srt=iss >> 16 & 0x1F, sse=iss >> 21 & 1)
    return out


def is_external_abort(facts: dict[str, object]) -> bool:
    fsc = facts.get("fsc")
    return bool(facts.get("ea")) or (isinstance(fsc, int) and (fsc == 0x10 or 0x14 <= fsc <= 0x17)) \
        or bool(facts.get("serror"))


_UNABLE = re.compile(r"Unable to handle kernel (.+?) at virtual address (?:0x)?([0-9a-f]+)")
_INTERNAL = re.compile(r"Internal error: (?:Oops[^:]*|[\w ]+): (?:0x)?([0-9a-f]+) \[#(\d+)\]")
_UNHANDLED = re.compile(r"Unhandled fault: (.+?) \((?:0x)?([0-9a-f]+)\) at (?:0x)?([0-9a-f]+)")
_SERROR = re.compile(r"SError Interrupt on CPU(\d+)")
_RV_OOPS = re.compile(r"^Oops - ([\w ]+?)(?: \[#(\d+)\])?$|^Oops \[#(\d+)\]")
_ESR = re.compile(r"^\s*ESR = (?:0x)?([0-9a-f]+)")
_KV = re.compile(r"\b(EC|IL|SET|FnV|EA|S1PTW|FSC|ISV|ISS|ISS2|CM|WnR|TnD|TagAccess)\s*=\s*(0x[0-9a-f]+|\d+)")
_PC = re.compile(r"^(pc|lr|epc|ra)\s*:\s*(\S+)")
_SP = re.compile(r"\bsp\s*:\s*([0-9a-f]{8,16})")
_CPU = re.compile(r"^CPU: (\d+)(?: UID: \d+)? PID: (\d+) Comm: (\S+)")
_HW = re.compile(r"^Hardware name: (.*)")
_PTE = re.compile(r"^\[([0-9a-f]+)\] pgd=.*?\bpte=([0-9a-f]+)")
_RV_STATUS = re.compile(r"status:\s*([0-9a-f]+)\s+badaddr:\s*([0-9a-f]+)\s+cause:\s*([0-9a-f]+)")
_END = re.compile(r"---\[ end trace|^Code: ")


class Arm64OopsReader(Reader):
    name = "linux-arm64"
    anchors = (b"Unable to handle", b"Internal error", b"Unhandled fault", b"SError", b"Oops")

    def __init__(self) -> None:
        super().__init__()
        self._cur: Fault | None = None
        self._left = 0

    def feed(self, line: LogLine) -> None:
        text = line.text
        if self._header(line, text):
            return
        if self._cur is not None:
            self._body(line, text)

    def _new(self, line: LogLine, kind: str, summary: str, arch: str = "aarch64") -> Fault:
        self._close()
        fault = Fault(kind, self.name, arch, summary[:160], line.path)
        fault.cite(ev(line))
        self._cur = fault
        self._left = MAX_BLOCK_LINES
        self.active = True
        return fault

    def _header(self, line: LogLine, text: str) -> bool:
        m = _UNABLE.search(text)
        if m:
            f = self._new(line, "arm64-kernel-fault", text.strip())
            f.facts["reason"] = m.group(1)
            f.addresses["fault"] = Address(int(m.group(2), 16), "VA", "faulting virtual address")
            return True
        m = _INTERNAL.search(text)
        if m:
            if self._cur is None:
                self._new(line, "arm64-oops", text.strip())
            assert self._cur is not None
            self._cur.facts.setdefault("oops_number", int(m.group(2)))
            value = int(m.group(1), 16)
            if "esr" not in self._cur.registers and value > 0xFFFF:
                self._set_esr(self._cur, value)
            self._cur.cite(ev(line))
            return True
        m = _UNHANDLED.search(text)
        if m:
            f = self._new(line, "arm64-unhandled-fault", text.strip())
            f.facts["reason"] = m.group(1)
            self._set_esr(f, int(m.group(2), 16))
            f.addresses["fault"] = Address(int(m.group(3), 16), "VA", "faulting address")
            return True
        m = _SERROR.search(text)
        if m:
            f = self._new(line, "arm64-serror", text.strip())
            f.cpu = int(m.group(1))
            f.facts["serror"] = True
            return True
        m = _RV_OOPS.search(text)
        if m:
            if self._cur is not None and self._cur.kind == "arm64-kernel-fault" and not self._cur.registers:
                cur = self._cur        # riscv: "Unable to handle ..." then "Oops [#1]"
                cur.arch, cur.kind, cur.reader = "riscv64", "riscv-linux-oops", "linux-riscv"
                cur.cite(ev(line))
                return True
            f = self._new(line, "riscv-linux-oops", text.strip(), arch="riscv64")
            f.reader = "linux-riscv"
            if m.group(1):
                f.facts["reason"] = m.group(1)
            return True
        return False

    def _set_esr(self, f: Fault, esr: int) -> None:
        f.registers["esr"] = esr
        f.facts.update(decode_esr(esr))

    def _body(self, line: LogLine, text: str) -> None:
        cur = self._cur
        assert cur is not None
        self._left -= 1
        m = _ESR.search(text)
        if m:
            self._set_esr(cur, int(m.group(1), 16))
            cur.cite(ev(line))
        elif _KV.search(text):
            for key, value in _KV.findall(text):
                v = int(value, 16) if value.startswith("0x") else int(value)
                cur.facts.setdefault(f"printed_{key}", v)
            cur.cite(ev(line))
        m = _PTE.search(text)
        if m:
            va, pte = int(m.group(1), 16), int(m.group(2), 16)
            cur.facts["pte"] = pte
            if pte & 1:      # valid descriptor: output address bits [47:12]
                cur.addresses["fault_pa"] = Address((pte & 0x0000FFFFFFFFF000) | (va & 0xFFF), "GPA",
                                                    "physical address from the stage-1 pte")
            cur.cite(ev(line))
        m = _CPU.search(text)
        if m:
            cur.cpu = int(m.group(1))
            cur.facts.update(pid=int(m.group(2)), comm=m.group(3))
        m = _HW.search(text)
        if m:
            cur.facts["hardware"] = m.group(1).strip()
        m = _PC.search(text)
        if m:
            reg = m.group(1)
            value = m.group(2)
            cur.facts.setdefault(reg, value)
            if reg in ("pc", "epc"):
                if reg == "epc":
                    cur.arch, cur.reader = "riscv64", "linux-riscv"
                    if cur.kind.startswith("arm64"):
                        cur.kind = "riscv-linux-oops"
                pc = to_int(value) if re.fullmatch(r"[0-9a-f]{8,16}", value) else None
                if pc is not None:
                    cur.addresses["pc"] = Address(pc, "PC", reg)
                else:
                    cur.facts["function"] = value.split("+", 1)[0]
                cur.cite(ev(line))
        m = _RV_STATUS.search(text)
        if m:
            cur.registers.update(status=int(m.group(1), 16), badaddr=int(m.group(2), 16), cause=int(m.group(3), 16))
            cur.cite(ev(line))
        if _END.search(text) or self._left <= 0:
            self._close()

    def _close(self) -> None:
        cur, self._cur = self._cur, None
        self.active = False
        if cur is None:
            return
        if "esr" not in cur.registers and "printed_EC" in cur.facts:
            cur.facts.setdefault("ec", cur.facts["printed_EC"])
        for key in ("FSC", "EA", "WnR", "ISV"):
            if f"printed_{key}" in cur.facts:
                cur.facts.setdefault(key.lower(), cur.facts[f"printed_{key}"])
        if cur.facts.get("fsc") is not None:
            fsc = cur.facts["fsc"]
            if isinstance(fsc, int):
                cur.facts.setdefault("fsc_name", fsc_name(fsc))
        if cur.arch == "aarch64" and is_external_abort(cur.facts):
            cur.facts["external_abort"] = True
        self.emit(cur, key=(cur.kind, cur.facts.get("function"), cur.addresses.get("fault")))

    def finish(self) -> None:
        if self._cur is not None:
            self._cur.truncated = "function" not in self._cur.facts
            self._close()
