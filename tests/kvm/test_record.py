"""Saved probes: the JSON form round-trips, cites lines, and bad files are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, run_hvcheck
from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.errors import InputError
from hvcheck.kvm.record import Answer, Probe, XsetbvRun, read_probe

HOST = FIXTURES / "kvm" / "pvm-6.18-host.json"


def test_recorded_host_reads_back_with_line_numbers() -> None:
    probe = read_probe(str(HOST))
    assert probe.kernel == "6.18.44-fc-v1147" and probe.machine == "x86_64" and "kvm_pvm" in probe.modules
    lines = HOST.read_text().splitlines()
    for a in probe.answers:
        assert a.line is not None and f'"n": {a.n},' in lines[a.line - 1]
    run = probe.runs[0]
    assert run.line is not None and '"value": 519' in lines[run.line - 1]


def test_save_and_read_are_inverse(tmp_path: Path) -> None:
    probe = read_probe(str(HOST))
    out = tmp_path / "again.json"
    out.write_text(probe.to_json_text())
    again = read_probe(str(out))
    strip = lambda p: ([(a.n, a.fd, a.ioctl, a.ret, a.errno, a.arg, a.out) for a in p.answers],  # noqa: E731
                       [{k: v for k, v in r.__dict__.items() if k != "line"} for r in p.runs])
    assert strip(again) == strip(probe)
    assert out.read_text() == HOST.read_text().replace('"recorded_by": "hvcheck 0.1.0"',
                                                      f'"recorded_by": "{probe.recorded_by}"')


_answer = st.builds(
    lambda n, fd, ok, ret, err, arg: Answer(n, fd, "KVM_GET_CLOCK", ret if ok else None, None if ok else err,
                                            {"cap": arg} if arg else {}),
    st.integers(0, 10**6), st.sampled_from(["dev", "vm", "vcpu"]), st.booleans(), st.integers(0, 1 << 40),
    st.integers(1, 4095), st.text(max_size=12))


@settings(max_examples=60)
@given(st.lists(_answer, max_size=8, unique_by=lambda a: a.n), st.integers(0, (1 << 64) - 1))
def test_any_probe_round_trips(tmp_path_factory: pytest.TempPathFactory, answers: list[Answer], value: int) -> None:
    probe = Probe("/dev/kvm", "6.1.0", "x86_64", answers=answers,
                  runs=[XsetbvRun(value, "KVM_GET_SUPPORTED_CPUID", 0x207, True, "exception", 13, 0, 0x1017, "xsetbv")])
    path = tmp_path_factory.mktemp("p") / "probe.json"
    path.write_text(probe.to_json_text())
    back = read_probe(str(path))
    assert [(a.n, a.fd, a.ret, a.errno, a.arg) for a in back.answers] == \
           [(a.n, a.fd, a.ret, a.errno, a.arg) for a in answers]
    assert back.runs[0].value == value and back.runs[0].verdict() == "#GP(0)"


def _broken(tmp_path: Path, edit: str, line_of: int | None = None) -> InputError:
    text = HOST.read_text().splitlines()
    if line_of is not None:
        text[line_of - 1] = edit
    else:
        text = [edit]
    path = tmp_path / "bad.json"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError) as err:
        read_probe(str(path))
    return err.value


@pytest.mark.parametrize("row, message", [
    ('  {"n": 0, "fd": "disk", "ioctl": "KVM_GET_API_VERSION", "ret": 12, "errno": null},', "fd must be one of"),
    ('  {"n": 0, "fd": "dev", "ioctl": "KVM_GET_API_VERSION", "ret": 12, "errno": 22},', "exactly one of"),
    ('  {"n": 0, "fd": "dev", "ioctl": "KVM_GET_API_VERSION", "ret": null, "errno": 99999},', "not an errno"),
    ('  {"n": 0, "fd": "dev", "ioctl": "ioctl", "ret": 1, "errno": null},', "KVM_* name"),
    ('  {"n": 0, "fd": "dev", "ioctl": "KVM_GET_API_VERSION", "ret": "12", "errno": null},', "must be an integer"),
    ('  {"n": 0, "fd": "dev", "ioctl": "KVM_GET_SUPPORTED_CPUID", "ret": 0, "errno": null, "out": {"entries": [[1]]}},',
     "7 unsigned 32-bit"),
])
def test_bad_answers_are_named_with_their_line(tmp_path: Path, row: str, message: str) -> None:
    line = 13  # the first answer of the recorded host
    assert HOST.read_text().splitlines()[line - 1].startswith('  {"n": 0,')
    err = _broken(tmp_path, row, line)
    assert message in err.message and err.line == line


@pytest.mark.parametrize("text, message", [
    ("not json", "invalid JSON"), ('{"format": "other"}', "not a saved KVM probe"),
    ('{"format": "hvcheck-kvm-probe", "version": 99}', "version 99"),
    ('{"format": "hvcheck-kvm-probe", "version": 1, "device": "/dev/kvm", "kernel": "6.1", "machine": "x86_64", '
     '"answers": {}}', '"answers" must be a list'),
])
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    assert message in _broken(tmp_path, text).message


def test_bad_file_is_exit_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\x00\xff binary")
    proc = run_hvcheck("kvm", "--from", str(bad))
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {bad}: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_recorded_runs_are_validated(tmp_path: Path) -> None:
    doc = json.loads(HOST.read_text())
    doc["runs"][0]["outcome"] = "maybe"
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="outcome must be"):
        read_probe(str(path))
