"""Against the real /dev/kvm of this machine kind (skipped locally where absent, a failure under CI):
the host's answers, and XSETBV proven in a real vCPU."""

from __future__ import annotations

import json
import os
import re
import stat
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT, require_kvm, require_tool, run_hvcheck
from rulecheck import clean, fires

from hvcheck.findings import Severity
from hvcheck.kvm.checks import check_probe, host_xcr0, run_prediction
from hvcheck.kvm.probe import GuestCpuid, entries_from_leaves, probe_host
from hvcheck.kvm.record import Probe
from hvcheck.x86.cpuid_model import read_cpuid_dump
from hvcheck.x86.xsave import xcr0_violations

SEED_GUEST = ROOT / "hvcheck" / "demo" / "examples" / "x86" / "guest-cpuid-202e7.txt"
X001_DOC = ROOT / "hvcheck" / "docs" / "rules" / "X001.md"


def x001_examples() -> list[tuple[str, int]]:
    """(rule, violating example) from the table of the X001 rule page."""
    rows = re.findall(r"^\| `([\w-]+)` \|.*\| `(0x[0-9a-f]+)` \(", X001_DOC.read_text(), re.M)
    return [(rule, int(value, 16)) for rule, value in rows]


@cache
def _probe(values: tuple[int, ...] | None = None, seed_cpuid: bool = False) -> Probe:
    guest = None
    if seed_cpuid:
        guest = GuestCpuid(str(SEED_GUEST), entries_from_leaves(read_cpuid_dump(str(SEED_GUEST)).leaves()))
    return probe_host(require_kvm(), list(values) if values is not None else None, guest)


def test_clean_host_gives_no_error_and_accepts_its_own_mask() -> None:
    probe = _probe()
    findings = check_probe(probe)
    assert not [f.message for f in findings if f.sev is Severity.ERROR]
    clean(findings, "X010")
    clean(findings, "X011")
    mask = host_xcr0(probe)[0]
    assert mask is not None and not xcr0_violations(mask)
    (run,) = probe.runs
    assert run.outcome == "accepted" and run.xcr0_after == run.value
    assert run.exits[-1] == "HLT"


def test_the_probe_records_every_answer_with_its_fd_class() -> None:
    probe = _probe()
    assert probe.first("KVM_GET_API_VERSION", "dev").ret == 12  # type: ignore[union-attr]
    assert {a.fd for a in probe.answers} == {"dev", "vm", "vcpu"}
    assert probe.kernel == os.uname().release
    caps = probe.find("KVM_CHECK_EXTENSION", "dev")
    assert len(caps) == len({a.arg["cap"] for a in caps}) > 200
    # a class upstream never implements the attribute ioctls on: refused, as x86 does (-ENOTTY)
    assert probe.first("KVM_GET_DEVICE_ATTR", "vm").errno == 25  # type: ignore[union-attr]


def test_seed_cpuid_xsetbv_202e7_gp_in_a_real_vcpu_and_the_prediction_agrees() -> None:
    probe = _probe((0x202E7,), seed_cpuid=True)
    (run,) = probe.runs
    assert (run.outcome, run.vector, run.error_code, run.at) == ("exception", 13, 0, "xsetbv")
    assert run.verdict() == "#GP(0)" and run.xcr0_after == 1
    findings = check_probe(probe)
    clean(findings, "X011")
    x001 = fires(findings, "X001")[0]
    assert x001.data["violations"] == ["amx-pair"] and x001.data["vcpu"] == "#GP(0)"
    assert run_prediction(probe, run).xsetbv == "#GP(0)"
    # the seed's CPUID itself is invalid (X003), whatever this host makes of it
    assert any("guest CPUID" in f.message and "0x202e7" in f.message for f in fires(findings, "X003"))


def test_xsetbv_7_and_the_host_mask_are_accepted() -> None:
    mask = host_xcr0(_probe())[0]
    assert mask is not None
    probe = _probe((0x7, mask))
    for run in probe.runs:
        assert run.verdict() == "accepted" and run.xcr0_after == run.value, run
    clean(check_probe(probe), "X011")


def test_every_x001_doc_example_gps_in_a_real_vcpu() -> None:
    examples = x001_examples()
    assert {r for r, _ in examples} == {"x87", "avx-needs-sse", "mpx-pair", "avx512-group", "avx512-needs-avx",
                                        "amx-pair", "apx-mpx", "supervisor", "reserved"}
    for rule, value in examples:  # the page's examples break their rule and no other
        assert [r for r, _ in xcr0_violations(value)] == [rule], (rule, hex(value))
    probe = _probe(tuple(v for _, v in examples))
    findings = check_probe(probe)
    clean(findings, "X011")
    isolated, not_testable = [], []
    for (rule, value), run in zip(examples, probe.runs, strict=True):
        assert run.value == value
        assert (run.verdict(), run.at) == ("#GP(0)", "xsetbv"), (rule, run)
        pred = run_prediction(probe, run)
        (isolated if pred.isolated() else not_testable).append(rule)
        if not pred.isolated():
            assert pred.unsupported, rule  # not isolated only because this vCPU lacks the components
    # every XSAVE host enables x87 and SSE (and the never-enumerable bits are testable anywhere)
    assert {"x87", "supervisor", "reserved"} <= set(isolated)
    print(f"isolated in this vCPU: {isolated}; not testable here (components missing): {not_testable}")


def test_cli_live_run_saved_and_replayed_agree(tmp_path: Path) -> None:
    require_kvm()
    saved = tmp_path / "probe.json"
    live = run_hvcheck("kvm", "--save", str(saved), "--format", "json")
    assert live.returncode == 0, live.stderr
    replay = run_hvcheck("kvm", "--from", str(saved), "--format", "json")
    assert replay.returncode == 0, replay.stderr
    a, b = json.loads(live.stdout), json.loads(replay.stdout)
    assert [(f["rule"], f["message"]) for f in a["findings"]] == [(f["rule"], f["message"]) for f in b["findings"]]
    assert a["kvm"]["xsetbv_runs"] == b["kvm"]["xsetbv_runs"]
    assert all(loc["path"] == str(saved) and isinstance(loc["line"], int)
               for f in b["findings"] for loc in f["locations"] if loc["path"] != "/dev/kvm")


def test_cli_seed_cpuid_exit_1_with_the_proof_in_the_text() -> None:
    require_kvm()
    proc = run_hvcheck("kvm", "--xsetbv", "0x202e7", "--cpuid", str(SEED_GUEST))
    assert proc.returncode == 1, proc.stderr
    assert re.search(r"XSETBV\(0x202e7\) → #GP\(0\) at xsetbv \(EIP 0x1017\); predicted #GP\(0\): agrees", proc.stdout)


def test_missing_device_names_the_module(tmp_path: Path) -> None:
    proc = run_hvcheck("kvm", "--device", str(tmp_path / "kvm"))
    assert proc.returncode == 2
    assert "not present: the KVM module is not loaded" in proc.stderr
    assert re.search(r"modprobe kvm_(intel|amd)|nested virtualisation|modprobe kvm", proc.stderr)


def test_a_device_that_is_not_kvm() -> None:
    proc = run_hvcheck("kvm", "--device", "/dev/null")
    assert proc.returncode == 2 and "not a KVM device: KVM_GET_API_VERSION failed with -ENOTTY" in proc.stderr


def test_permission_denied_names_the_group() -> None:
    device = require_kvm()
    setpriv = require_tool("setpriv")
    st = os.stat(device)
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    if st.st_mode & stat.S_IROTH:
        pytest.skip(f"{device} is world-readable here: no user is refused")
    import subprocess
    import sys

    proc = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                           "hvcheck", "kvm"], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    import grp

    group = grp.getgrgid(st.st_gid).gr_name
    assert f"{device}: permission denied" in proc.stderr and f"group '{group}'" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_non_x86_host_gets_the_generic_checks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's other-architecture path, run for real: _IO requests encode alike on x86 and
    arm64, so this host answers them as an arm64 host would be asked."""
    import hvcheck.kvm.probe as probe_mod

    device = require_kvm()
    kernel, _, modules, under = probe_mod.host_facts()
    monkeypatch.setattr(probe_mod, "host_facts", lambda: (kernel, "aarch64", modules, under))
    probe = probe_mod.probe_host(device, [0x7])
    assert {a.ioctl for a in probe.answers} == {"KVM_GET_API_VERSION", "KVM_CHECK_EXTENSION",
                                               "KVM_GET_VCPU_MMAP_SIZE", "KVM_CREATE_VM", "KVM_GET_STATS_FD"}
    assert probe.runs == []
    findings = check_probe(probe)
    clean(findings, "X010")
    notes = [f.message for f in fires(findings, "X015")]
    assert any("aarch64 is not x86: only the generic capability checks ran" in n for n in notes)
