"""The KVM ioctl table: generated numbers vs the host's <linux/kvm.h>, fd-class coverage, decode."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, require_tool, run_hvcheck

from hvcheck.x86 import kvm_ioctls as K
from hvcheck.x86.kvm_fd_classes import SUPPLEMENT, X86, other_arch

KVM_H = Path("/usr/include/linux/kvm.h")


def _require_kvm_h() -> None:
    if not KVM_H.is_file():
        import os
        if os.environ.get("CI"):
            pytest.fail("/usr/include/linux/kvm.h is required in CI (.ci/run installs linux-libc-dev)")
        pytest.skip("linux-libc-dev not installed")


def test_numbers_match_a_c_program_compiled_against_the_host_header(tmp_path: Path) -> None:
    gcc = require_tool("gcc")
    _require_kvm_h()
    rows = [i for i in K.table()[1] if i.source != "supplement (newer than the generation header)"]
    assert len(rows) > 100
    # #ifdef so a header older or newer than the generation header still compiles: a name the host
    # header lacks prints "absent" and is checked separately.
    body = "".join(f'#ifdef {i.name}\n  printf("{i.name} %#x\\n", (unsigned){i.name});\n#else\n'
                   f'  printf("{i.name} absent\\n");\n#endif\n' for i in rows)
    src = tmp_path / "t.c"
    src.write_text("#include <stdio.h>\n#include <linux/kvm.h>\nint main(void){\n" + body + "return 0;}\n")
    exe = tmp_path / "t"
    subprocess.run([gcc, "-o", str(exe), str(src)], check=True, capture_output=True)
    out = dict(line.split() for line in subprocess.run([str(exe)], capture_output=True, text=True,
                                                       check=True).stdout.splitlines())
    present = {n: int(v, 16) for n, v in out.items() if v != "absent"}
    assert len(present) >= 0.9 * len(rows)
    wrong = {n: (hex(v), hex(K.by_name()[n].value)) for n, v in present.items() if v != K.by_name()[n].value}
    assert not wrong


def test_supplement_values_follow_the_ioc_encoding() -> None:
    for name, (value, macro, nr, size, _) in SUPPLEMENT.items():
        g = K.generic_decode(value)
        assert (g.macro, g.nr, g.size, g.type) == (macro, nr, size, 0xAE), name


def test_every_header_ioctl_is_classified_x86_or_other_arch() -> None:
    doc, rows = K.table()
    unclassified = [i.name for i in rows if i.name not in X86 and other_arch(i.name) is None]
    assert not unclassified, "add to kvm_fd_classes.X86 or OTHER_ARCH_*: " + ", ".join(unclassified)
    missing = [n for n in X86 if n not in K.by_name()]
    assert not missing
    # every x86 ioctl is accepted by at least one fd class
    assert all(any(c.since(k) for k in ("dev", "vm", "vcpu", "device")) for c in X86.values())


def test_generated_data_records_its_header_version() -> None:
    doc = json.loads((ROOT / "hvcheck/x86/data/kvm_ioctls.json").read_text())
    assert doc["generated_by"] == "scripts/gen_kvm_ioctls.py"
    assert doc["linux_version"] and doc["header"].endswith("kvm.h")
    assert doc["capabilities"]["KVM_CAP_SYS_ATTRIBUTES"] == 209


def test_generator_reproduces_the_committed_numbers(tmp_path: Path) -> None:
    require_tool("gcc")
    _require_kvm_h()
    out = tmp_path / "k.json"
    subprocess.run(["python3", str(ROOT / "scripts/gen_kvm_ioctls.py"), "--output", str(out)], check=True,
                   capture_output=True)
    fresh = {r["name"]: r["value"] for r in json.loads(out.read_text())["ioctls"]}
    committed = {r["name"]: r["value"] for r in json.loads((ROOT / "hvcheck/x86/data/kvm_ioctls.json").read_text())["ioctls"]}
    common = set(fresh) & set(committed)
    assert len(common) > 100 and all(fresh[n] == committed[n] for n in common)


@pytest.mark.parametrize(("value", "name", "size"), [
    (0x4018AEE2, "KVM_GET_DEVICE_ATTR", 24), (0x4018AEE3, "KVM_HAS_DEVICE_ATTR", 24),
    (0x4018AEE1, "KVM_SET_DEVICE_ATTR", 24), (0xAE80, "KVM_RUN", 0), (0x9000AECF, "KVM_GET_XSAVE2", 4096),
])
def test_known_values(value: int, name: str, size: int) -> None:
    res = K.lookup(value)
    assert [i.name for i in res.matches] == [name] and res.matches[0].size == size


def test_low16_collisions_are_reported() -> None:
    res = K.lookup(0xAEE2)
    assert not res.matches and [i.name for i in res.low16_only] == ["KVM_GET_DEVICE_ATTR"]
    res = K.lookup(0xAEA3)
    assert {i.name for i in res.matches + res.low16_only} == {"KVM_GET_TSC_KHZ", "KVM_ENABLE_CAP"}
    assert res.ambiguous


def test_cli_decode_json() -> None:
    proc = run_hvcheck("ioctl", "0x4018AEE2", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)["ioctls"]
    m = entry["matches"][0]
    assert m["name"] == "KVM_GET_DEVICE_ATTR" and m["macro"] == "_IOW" and m["size"] == "0x18"
    assert m["fd_classes"] == {"dev": "5.17", "vm": None, "vcpu": "5.16", "device": "~3.10"}


def test_cli_16_bit_warning() -> None:
    proc = run_hvcheck("ioctl", "0xAEE2")
    assert proc.returncode == 0 and "only the low 16 bits" in proc.stdout and "0x4018aee2" in proc.stdout


def test_cli_unknown_ioctl_exit_1_with_generic_decode() -> None:
    proc = run_hvcheck("ioctl", "0xdeadbeef")
    assert proc.returncode == 1
    assert "not a KVM ioctl" in proc.stdout and "_IOWR(type 0xbe, nr 0xef, size 7853)" in proc.stdout


@pytest.mark.parametrize("arg", ["0x100000000", "KVM_NOPE", "zz-top", "0x"])
def test_cli_bad_ioctl_numbers_exit_2(arg: str) -> None:
    proc = run_hvcheck("ioctl", arg)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_cli_needs_something() -> None:
    assert run_hvcheck("ioctl").returncode == 2
