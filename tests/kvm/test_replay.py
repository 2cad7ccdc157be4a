"""The checks replayed on recorded answers: a real recording of a clean host (this project's PVM
machine, Linux 6.18) and, made from it one answer at a time, the broken hosts behind every X010,
X003 and vCPU path — plus the seed-000 host reconstruction the demo replays."""

from __future__ import annotations

import copy
import errno
from functools import cache
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, run_hvcheck
from rulecheck import clean, fires

from hvcheck.findings import Finding, Severity
from hvcheck.kvm.checks import check_probe, predict
from hvcheck.kvm.record import Answer, Probe, XsetbvRun, read_probe

HOST = FIXTURES / "kvm" / "pvm-6.18-host.json"
SEED_CPUID = FIXTURES / "kvm" / "pvm-6.18-seed-cpuid.json"
SEED_HOST = ROOT / "hvcheck" / "demo" / "examples" / "kvm" / "seed000-uos-5.10-probe.json"


@cache
def _load(path: Path) -> Probe:
    return read_probe(str(path))


def host() -> Probe:
    return copy.deepcopy(_load(HOST))


def answer(probe: Probe, ioctl: str, fd: str, **arg: object) -> Answer:
    found = probe.first(ioctl, fd, **arg)
    assert found is not None, (ioctl, fd, arg)
    return found


def fail(a: Answer, err: int) -> None:
    a.ret, a.errno, a.out = None, err, {}


def succeed(a: Answer, ret: int = 0, **out: object) -> None:
    a.ret, a.errno, a.out = ret, None, dict(out)


def set_cap(probe: Probe, cap: str, value: int) -> None:
    for fd in ("dev", "vm"):
        a = probe.cap(cap, fd)
        assert a is not None
        succeed(a, value)


def rules(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


# --------------------------------------------------------------------------------------------
# The clean host as recorded

def test_recorded_clean_host_has_no_error_and_no_x010() -> None:
    findings = check_probe(host())
    assert not [f for f in findings if f.sev is Severity.ERROR]
    for rule in ("X010", "X003", "X011", "X012", "X013", "X014", "X015"):
        clean(findings, rule)
    # what this PVM host really does: a supported CPUID with XSAVE clear but leaf 0xD 0x207 (X004),
    # and a vCPU CPUID that reads back with the host CPU's features (X016)
    assert "XSAVE is clear" in fires(findings, "X004")[0].message
    x016 = fires(findings, "X016")[0]
    assert "gains" in x016.message and "XSAVE" in x016.message


# --------------------------------------------------------------------------------------------
# X010, one path at a time

def test_x010_capability_yes_but_dev_handler_lacks_the_case() -> None:
    """Seed 000: KVM_CAP_SYS_ATTRIBUTES = 1, KVM_GET_DEVICE_ATTR on /dev/kvm = -EINVAL."""
    p = host()
    fail(answer(p, "KVM_GET_DEVICE_ATTR", "dev"), errno.EINVAL)
    fail(answer(p, "KVM_HAS_DEVICE_ATTR", "dev"), errno.EINVAL)
    findings = check_probe(p)
    (f,) = fires(findings, "X010")
    assert f.message.startswith("KVM_HAS_DEVICE_ATTR and KVM_GET_DEVICE_ATTR on /dev/kvm failed with -EINVAL")
    assert "KVM_CAP_SYS_ATTRIBUTES) = 1" in f.message and f.data["capability"] == "KVM_CAP_SYS_ATTRIBUTES"
    assert [loc.line for loc in f.locations] == [answer(p, "KVM_HAS_DEVICE_ATTR", "dev").line,
                                                 answer(p, "KVM_GET_DEVICE_ATTR", "dev").line,
                                                 p.cap("KVM_CAP_SYS_ATTRIBUTES", "dev").line]  # type: ignore[union-attr]
    # and the supported-XCR0 comparison says it could not run
    assert "could not be compared" in fires(findings, "X015")[0].message


def test_x010_needs_the_capability() -> None:
    """The same -EINVAL on a kernel without KVM_CAP_SYS_ATTRIBUTES (before 5.17) is consistent."""
    p = host()
    fail(answer(p, "KVM_GET_DEVICE_ATTR", "dev"), errno.EINVAL)
    fail(answer(p, "KVM_HAS_DEVICE_ATTR", "dev"), errno.EINVAL)
    set_cap(p, "KVM_CAP_SYS_ATTRIBUTES", 0)
    clean(check_probe(p), "X010")


def test_x010_vm_fd_enotty_with_capability() -> None:
    p = host()
    fail(answer(p, "KVM_GET_CLOCK", "vm"), errno.ENOTTY)
    (f,) = fires(check_probe(p), "X010")
    assert "KVM_GET_CLOCK on the VM fd failed with -ENOTTY" in f.message and "KVM_CAP_ADJUST_CLOCK" in f.message


def test_x010_vcpu_einval_with_capability() -> None:
    p = host()
    fail(answer(p, "KVM_GET_XSAVE2", "vcpu"), errno.EINVAL)
    (f,) = fires(check_probe(p), "X010")
    assert "KVM_GET_XSAVE2 on the vCPU fd failed with -EINVAL" in f.message and "KVM_CAP_XSAVE2) = 4096" in f.message


@pytest.mark.parametrize("ioctl, fd", [("KVM_GET_DEVICE_ATTR", "vm"), ("KVM_GET_SUPPORTED_CPUID", "vcpu"),
                                       ("KVM_GET_SUPPORTED_CPUID", "vm"), ("KVM_X86_GET_MCE_CAP_SUPPORTED", "vcpu")])
def test_x010_answered_on_a_class_upstream_never_implements(ioctl: str, fd: str) -> None:
    p = host()
    succeed(answer(p, ioctl, fd))
    (f,) = fires(check_probe(p), "X010")
    assert f.message.startswith(f"{ioctl} answered (0) on the {'VM' if fd == 'vm' else 'vCPU'} fd, a class upstream "
                                "x86 KVM never implements")


def test_x010_answered_although_the_capability_says_no_seed_vcpu_case() -> None:
    """Seed 000's other half: the vCPU handler answers the attribute on a 5.10 kernel that has no
    KVM_CAP_VCPU_ATTRIBUTES (the case was put in kvm_arch_vcpu_ioctl)."""
    p = host()
    p.kernel = "5.10.0-46.31.uelc20.x86_64"
    set_cap(p, "KVM_CAP_VCPU_ATTRIBUTES", 0)
    (f,) = fires(check_probe(p), "X010")
    assert f.message.startswith("KVM_HAS_DEVICE_ATTR and KVM_GET_DEVICE_ATTR answered (0) on the vCPU fd although "
                                "KVM_CHECK_EXTENSION(KVM_CAP_VCPU_ATTRIBUTES) = 0; upstream has it there only since "
                                "Linux 5.16")


def test_x010_not_for_capabilities_that_do_not_gate() -> None:
    """KVM_GET_TSC_KHZ always answers on the VM fd; KVM_CAP_VM_TSC_CONTROL is about *setting* it
    (this real host answers it with the capability 0)."""
    p = host()
    cap = p.cap("KVM_CAP_VM_TSC_CONTROL", "vm")
    assert cap is not None and cap.ret == 0 and answer(p, "KVM_GET_TSC_KHZ", "vm").ok
    clean(check_probe(p), "X010")


def test_x010_not_for_a_setter_refusing_its_value() -> None:
    p = host()
    fail(answer(p, "KVM_SET_XCRS", "vcpu", xcr0=0x207), errno.EINVAL)
    findings = check_probe(p)
    clean(findings, "X010")
    assert "although the mask obeys every XCR0 rule" in fires(findings, "X013")[0].message


def test_x010_not_for_an_unknown_attribute() -> None:
    p = host()
    fail(answer(p, "KVM_GET_DEVICE_ATTR", "dev"), errno.ENXIO)
    clean(check_probe(p), "X010")


def test_documented_nested_limit_is_a_note_not_x010() -> None:
    p = host()
    set_cap(p, "KVM_CAP_NESTED_STATE", 8192)
    assert answer(p, "KVM_GET_NESTED_STATE", "vcpu").errno == errno.EINVAL
    assert p.under_hypervisor
    findings = check_probe(p)
    clean(findings, "X010")
    note = [f for f in fires(findings, "X015") if "KVM_GET_NESTED_STATE" in f.message]
    assert note and "itself a guest" in note[0].message
    p.under_hypervisor = False  # on bare metal the same answer is a missing handler
    (f,) = fires(check_probe(p), "X010")
    assert "KVM_GET_NESTED_STATE" in f.message


def test_x010_vm_attributes_capability_vouches_for_the_vm_fd() -> None:
    p = host()
    set_cap(p, "KVM_CAP_VM_ATTRIBUTES", 1)
    (f,) = fires(check_probe(p), "X010")  # advertised, but the VM fd refuses it (-ENOTTY)
    assert "KVM_CHECK_EXTENSION(KVM_CAP_VM_ATTRIBUTES) = 1 advertises it there" in f.message
    succeed(answer(p, "KVM_GET_DEVICE_ATTR", "vm"))
    succeed(answer(p, "KVM_HAS_DEVICE_ATTR", "vm"))
    clean(check_probe(p), "X010")  # answered, and vouched for by its capability


def test_other_architectures_judge_only_the_generic_ioctls() -> None:
    p = host()
    p.machine = "aarch64"
    succeed(answer(p, "KVM_GET_DEVICE_ATTR", "vm"))  # arm64 implements VM attributes
    clean(check_probe(p), "X010")
    fail(answer(p, "KVM_GET_STATS_FD", "vm"), errno.ENOTTY)  # generic: KVM_CAP_BINARY_STATS_FD = 1
    (f,) = fires(check_probe(p), "X010")
    assert "KVM_GET_STATS_FD on the VM fd failed with -ENOTTY" in f.message


def test_check_extension_on_the_vm_fd() -> None:
    p = host()
    for a in p.find("KVM_CHECK_EXTENSION", "vm"):
        fail(a, errno.ENOTTY)
    (f,) = fires(check_probe(p), "X010")
    assert "KVM_CHECK_EXTENSION on the VM fd failed with -ENOTTY" in f.message
    assert "KVM_CAP_CHECK_EXTENSION_VM) = 1" in f.message


# --------------------------------------------------------------------------------------------
# X003 and X012: the host's promise

def _supported(p: Probe) -> Answer:
    return answer(p, "KVM_GET_SUPPORTED_CPUID", "dev")


def _set_leaf(entries: list[list[int]], leaf: int, sub: int, reg: int, value: int) -> None:
    for e in entries:
        if e[0] == leaf and e[1] == sub:
            e[3 + reg] = value
            return
    raise AssertionError((leaf, sub))


def test_x003_supported_cpuid_invalid_mask() -> None:
    p = host()
    entries = _supported(p).out["entries"]
    _set_leaf(entries, 0xD, 0, 0, 0x20207)
    _set_leaf(entries, 1, 0, 2, sup_leaf(entries, 1, 0)[5] | 1 << 26)  # XSAVE: the guest uses leaf 0xD
    findings = check_probe(p)
    f = [f for f in fires(findings, "X003") if f.message.startswith("KVM_GET_SUPPORTED_CPUID")]
    assert f and "XTILECFG (17) is set without XTILEDATA" in f[0].message
    assert f[0].locations[0].line == _supported(p).line


def test_x003_xcomp_guest_supp_invalid() -> None:
    p = host()
    answer(p, "KVM_GET_DEVICE_ATTR", "dev").out["value"] = 0x20207
    findings = check_probe(p)
    (f,) = fires(findings, "X003")
    assert f.message.startswith("KVM_X86_XCOMP_GUEST_SUPP = 0x20207")


def test_x003_clean_on_a_valid_promise() -> None:
    clean(check_probe(host()), "X003")


@pytest.mark.parametrize("attr, severity, part", [
    (0x7, Severity.ERROR, "enumerates PKRU (0x200), which KVM_X86_XCOMP_GUEST_SUPP (0x7) does not support"),
    (0x2E7, Severity.WARNING, "supports opmask|ZMM_Hi256|Hi16_ZMM (0xe0)"),
])
def test_x012_two_answers_disagree(attr: int, severity: Severity, part: str) -> None:
    p = host()
    answer(p, "KVM_GET_DEVICE_ATTR", "dev").out["value"] = attr
    (f,) = fires(check_probe(p), "X012")
    assert f.sev is severity and part in f.message


def test_x012_permission_filtered_amx_is_allowed() -> None:
    p = host()
    answer(p, "KVM_GET_DEVICE_ATTR", "dev").out["value"] = 0x60207  # XTILECFG/XTILEDATA await permission
    clean(check_probe(p), "X012")


# --------------------------------------------------------------------------------------------
# X013, X016: state given to the vCPU

def test_x013_xcrs_read_back_differs() -> None:
    p = host()
    set_xcrs = answer(p, "KVM_SET_XCRS", "vcpu", xcr0=0x207)
    back = next(a for a in p.find("KVM_GET_XCRS", "vcpu") if a.n > set_xcrs.n)
    back.out["xcrs"] = {"0": 0x7}
    (f,) = fires(check_probe(p), "X013")
    assert "reads back 0x7" in f.message


def test_x013_refuses_its_own_supported_cpuid() -> None:
    p = host()
    fail(answer(p, "KVM_SET_CPUID2", "vcpu", cpuid="KVM_GET_SUPPORTED_CPUID"), errno.EINVAL)
    f = fires(check_probe(p), "X013")
    assert any("refuses the CPUID it reports as supported" in x.message for x in f)


def test_x013_clean_when_the_round_trip_holds() -> None:
    clean(check_probe(host()), "X013")


def test_x016_clean_when_only_runtime_bits_change() -> None:
    p = host()
    sup = _supported(p).out["entries"]
    got = answer(p, "KVM_GET_CPUID2", "vcpu")
    back = copy.deepcopy(sup)
    _set_leaf(back, 1, 0, 2, sup_leaf(sup, 1, 0)[5] | 1 << 27)   # OSXSAVE follows CR4
    _set_leaf(back, 0xD, 0, 1, 0x240)                            # size for the enabled XCR0
    got.out["entries"] = back
    clean(check_probe(p), "X016")


def sup_leaf(entries: list[list[int]], leaf: int, sub: int) -> list[int]:
    return next(e for e in entries if e[0] == leaf and e[1] == sub)


# --------------------------------------------------------------------------------------------
# X011, X014: the micro-guest against the prediction

def _run(p: Probe) -> XsetbvRun:
    return p.runs[0]


def test_x011_vcpu_gp_on_a_value_the_rules_accept() -> None:
    p = host()
    r = _run(p)
    r.outcome, r.vector, r.error_code, r.rip, r.at = "exception", 13, 0, 0x1017, "xsetbv"
    (f,) = fires(check_probe(p), "X011")
    assert f.message.startswith("XSETBV(0x207) in a real vCPU → #GP(0), but the XCR0 rules predict accepted")


def test_x011_vcpu_accepts_a_value_the_rules_reject() -> None:
    p = host()
    r = _run(p)
    r.value = 0x5
    findings = check_probe(p)
    (f,) = fires(findings, "X011")
    assert "→ accepted, but the XCR0 rules predict #GP(0): bit 2 (AVX) is set without bit 1 (SSE)" in f.message
    fires(findings, "X001")


def test_x011_clean_when_the_vcpu_agrees() -> None:
    findings = check_probe(_load(SEED_CPUID))
    clean(findings, "X011")
    x001 = fires(findings, "X001")[0]
    assert "in a real vCPU: XSETBV(0x202e7) → #GP(0) at the xsetbv (guest EIP 0x1017)" in x001.message
    assert "does not isolate the rule" in x001.message  # this host has no AVX-512/AMX to isolate it


def test_x011_when_kvm_set_xcrs_accepts_an_invalid_mask() -> None:
    p = host()
    _set_leaf(_supported(p).out["entries"], 0xD, 0, 0, 0x20207)
    answer(p, "KVM_SET_XCRS", "vcpu", xcr0=0x207).arg["xcr0"] = 0x20207
    f = [x for x in fires(check_probe(p), "X011") if x.data.get("step") == "KVM_SET_XCRS"]
    assert f and "KVM_SET_XCRS accepted XCR0 0x20207" in f[0].message


def _clear_effective_xsave(p: Probe) -> None:
    got = answer(p, "KVM_GET_CPUID2", "vcpu")
    _set_leaf(got.out["entries"], 1, 0, 2, sup_leaf(got.out["entries"], 1, 0)[5] & ~(1 << 26))


def test_x014_osxsave_accepted_without_xsave() -> None:
    p = host()
    _clear_effective_xsave(p)
    (f,) = fires(check_probe(p), "X014")
    assert f.sev is Severity.WARNING and "accepted CR4.OSXSAVE" in f.message


def test_x014_osxsave_refused_with_xsave() -> None:
    p = host()
    r = _run(p)
    r.outcome, r.vector, r.error_code, r.rip, r.at = "exception", 13, 0, 0x1008, "mov cr4"
    findings = check_probe(p)
    (f,) = fires(findings, "X014")
    assert f.sev is Severity.ERROR and "refused CR4.OSXSAVE" in f.message
    clean(findings, "X011")  # XSETBV was never reached


def test_x014_clean_when_the_cpuid_has_xsave() -> None:
    clean(check_probe(host()), "X014")


def test_x015_run_that_did_not_finish() -> None:
    p = host()
    r = _run(p)
    r.outcome, r.detail = "error", "KVM_EXIT_INTERNAL_ERROR suberror 1 (emulation failure)"
    (f,) = fires(check_probe(p), "X015")
    assert "did not finish: KVM_EXIT_INTERNAL_ERROR" in f.message and "PVM" in f.message


def test_x015_clean_when_every_check_ran() -> None:
    clean(check_probe(host()), "X015")


def test_x015_not_x86() -> None:
    p = host()
    p.machine = "aarch64"
    findings = check_probe(p)
    notes = fires(findings, "X015")
    assert any("aarch64 is not x86" in n.message for n in notes)
    for rule in ("X003", "X004", "X012", "X016"):
        clean(findings, rule)


@pytest.mark.parametrize("value, xsave, guest, host_mask, verdict, isolated", [
    (0x202E7, True, 0x602E7, 0x602E7, "#GP(0)", True),     # an AMX host isolates the AMX rule
    (0x202E7, True, 0x202E7, 0x207, "#GP(0)", False),     # this host: the bits are not even enabled
    (0x602E7, True, 0x602E7, 0x602E7, "accepted", True),
    (0x207, True, 0x202E7, 0x207, "accepted", True),      # guest ∩ host
    (0x2E7, True, 0x2E7, 0x207, "#GP(0)", True),          # X002 against KVM, not the CPUID
    (0x7, False, 0x7, 0x7, "accepted", True),
])
def test_prediction(value: int, xsave: bool, guest: int, host_mask: int, verdict: str, isolated: bool) -> None:
    pred = predict(value, xsave, guest, host_mask)
    assert pred.xsetbv == verdict and pred.cr4 == ("ok" if xsave else "#GP(0)")
    if pred.violations:
        assert pred.isolated() is isolated


# --------------------------------------------------------------------------------------------
# The seed-000 host (reconstruction) and the CLI replay

def test_seed000_host_replay_tells_the_whole_chain() -> None:
    findings = check_probe(_load(SEED_HOST))
    assert {f.rule for f in findings} == {"X003", "X004", "X010", "X013", "X015"}
    dev, vcpu = fires(findings, "X010")
    assert dev.data["fd_class"] == "dev" and dev.data["errno"] == errno.EINVAL
    assert vcpu.data["fd_class"] == "vcpu" and "only since Linux 5.16" in vcpu.message
    assert "as X003 predicts" in fires(findings, "X013")[0].message


def test_seed000_generator_reproduces_the_bundled_file() -> None:
    import runpy

    build = runpy.run_path(str(SEED_HOST.parent / "make_seed000_probe.py"))["build"]
    assert build().to_json_text() == SEED_HOST.read_text()


def test_cli_replay_cites_file_lines_and_exit_code() -> None:
    proc = run_hvcheck("kvm", "--from", str(SEED_HOST), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    import json

    doc = json.loads(proc.stdout)
    x010 = [f for f in doc["findings"] if f["rule"] == "X010"]
    assert x010 and all(isinstance(loc["line"], int) and loc["path"] == str(SEED_HOST)
                        for f in x010 for loc in f["locations"])
    assert doc["kvm"]["kernel"] == "5.10.0-46.31.uelc20.x86_64" and doc["kvm"]["replayed_from"] == str(SEED_HOST)


def test_cli_from_refuses_live_options() -> None:
    proc = run_hvcheck("kvm", "--from", str(HOST), "--xsetbv", "0x7")
    assert proc.returncode == 2 and "--from replays a saved probe" in proc.stderr



def test_demo_says_what_it_skipped_without_kvm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hvcheck.demo import scenario_kvm
    from hvcheck.demo.cli import demo

    monkeypatch.setattr(scenario_kvm, "DEVICE", str(tmp_path / "no-kvm"))
    result = CliRunner().invoke(demo, ["scenario_kvm"], standalone_mode=False)
    assert result.exception is None and result.return_value == 0
    assert "--> reproduced: X003, X004, X010, X013, X015" in result.output
    assert f"--> skipped: {tmp_path / 'no-kvm'} is not usable here (No such file or directory)" in result.output
