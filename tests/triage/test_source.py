"""Line source: prefixes, ANSI, CRLF, gzip, stdin, binary junk, over-long lines."""

from __future__ import annotations

import gzip

import pytest
from triage_helpers import write

from hvcheck.errors import InputError
from hvcheck.triage.source import MAX_LINE, clean, iter_lines, looks_binary


@pytest.mark.parametrize("raw, expected", [
    ("[    0.000000] RIP: 0010:foo+0x1/0x2\r\n", "RIP: 0010:foo+0x1/0x2"),
    ("Jun 09 11:11:21 host kernel: RAX: 0000", "RAX: 0000"),
    ("2024-05-01T10:00:00.123456+02:00 host kernel: Oops: 0002 [#1]", "Oops: 0002 [#1]"),
    ("<4>[  211.004235] Oops: 0002 [#1] SMP", "Oops: 0002 [#1] SMP"),
    ("[    0.000000][    T0] Linux version 6.1", "Linux version 6.1"),
    ("[2024-01-02 03:04:05.678] [WARN  0] (hvisor::x:1) y", "[WARN  0] (hvisor::x:1) y"),
    ("[03:04:05.678] sbi_trap_error: hart0: x", "sbi_trap_error: hart0: x"),
    ("\x1b[37m[\x1b[91mERROR\x1b[37m 3] (\x1b[90mhvisor::panic:24\x1b[37m) panic\x1b[0m",
     "[ERROR 3] (hvisor::panic:24) panic"),
    ("[ERROR 3] (hvisor::panic:24) kept as is", "[ERROR 3] (hvisor::panic:24) kept as is"),
    ("a\x00b\x07c", "abc"),
])
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_crlf_and_gzip_and_numbers(tmp_path) -> None:
    text = "one\r\ntwo\r\nthree\r\n"
    gz = tmp_path / "log.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    plain = write(tmp_path, text)
    for path in (str(gz), plain):
        lines = list(iter_lines(path))
        assert [(ln.number, ln.text) for ln in lines] == [(1, "one"), (2, "two"), (3, "three")]


def test_gzip_detected_by_magic_not_name(tmp_path) -> None:
    path = tmp_path / "console.txt"
    path.write_bytes(gzip.compress(b"hello\n"))
    assert [ln.text for ln in iter_lines(str(path))] == ["hello"]


def test_corrupt_gzip_is_input_error(tmp_path) -> None:
    path = tmp_path / "bad.log.gz"
    path.write_bytes(gzip.compress(b"x" * 10000)[:40])
    with pytest.raises(InputError) as exc:
        list(iter_lines(str(path)))
    assert "bad.log.gz" in str(exc.value)


def test_binary_file_rejected(tmp_path) -> None:
    path = tmp_path / "vmlinux"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(4000))
    with pytest.raises(InputError, match="ELF"):
        list(iter_lines(str(path)))
    assert looks_binary(bytes(range(256)) * 4) is not None
    assert looks_binary(b"plain text with a little \x01 junk\n" * 20) is None


def test_over_long_line_is_cut_and_numbering_kept(tmp_path) -> None:
    path = tmp_path / "long.log"
    path.write_bytes(b"a" * (3 * MAX_LINE + 10) + b"\nsecond\n")
    lines = list(iter_lines(str(path)))
    assert len(lines) == 2
    assert len(lines[0].text) <= MAX_LINE
    assert (lines[1].number, lines[1].text) == (2, "second")


def test_missing_file(tmp_path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        list(iter_lines(str(tmp_path / "nope.log")))


def _run_cli(*args: str, close_stdin: bool = False):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "hvcheck", "triage", *args], capture_output=True, text=True,
                          timeout=60, stdin=None if close_stdin else subprocess.DEVNULL,
                          preexec_fn=(lambda: os.close(0)) if close_stdin else None)


def test_closed_stdin_is_one_line_error_not_internal() -> None:
    proc = _run_cli("-", close_stdin=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: -: standard input is closed") and proc.stderr.count("\n") == 1


def test_empty_stdin_is_an_empty_log() -> None:
    proc = _run_cli("-", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert '"lines": "0x0"' in proc.stdout


def test_named_pipe_without_writer_is_refused_not_a_hang(tmp_path) -> None:
    import os

    fifo = tmp_path / "console.fifo"
    os.mkfifo(fifo)
    proc = _run_cli(str(fifo))      # would block in open() forever if it were opened
    assert proc.returncode == 2
    assert proc.stderr == f"error: {fifo}: is a named pipe, not a log file: pipe it into `hvcheck triage -` instead\n"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_character_devices_are_refused(device) -> None:
    import os

    if not os.path.exists(device):
        pytest.fail(f"{device} missing on this system")
    with pytest.raises(InputError, match="is a character device"):
        list(iter_lines(device))


def _lines(path: str) -> list[tuple[int, str]]:
    return [(line.number, line.text) for line in iter_lines(path)]


def test_quoted_printable_mail_is_decoded_and_keeps_line_numbers(tmp_path) -> None:
    long = "x" * 70
    text = (f"> pc=3D0xc0543d64 cpsr=3D0xa00f0193\n> [=C2=A0 136.721403] {long}=\nwrapped tail\n"
            "> after\n")
    got = _lines(write(tmp_path, text))
    assert got[0] == (1, "pc=0xc0543d64 cpsr=0xa00f0193")
    assert got[1][0] == 2 and got[1][1].endswith(long + "wrapped tail")      # soft break joined, NBSP gone
    assert got[2] == (3, "") and got[3] == (4, "after")                       # later lines keep their numbers


def test_plain_logs_are_not_decoded(tmp_path) -> None:
    text = "[    1.000000] [e0a80010] *pgd=10000000bffff003, *pte=00000000\nshort line ending in =\nnext\n"
    got = _lines(write(tmp_path, text))
    assert got[0][1] == "[e0a80010] *pgd=10000000bffff003, *pte=00000000"
    assert got[1][1] == "short line ending in =" and got[2] == (3, "next")


def test_a_mail_pasted_after_plain_text_is_decoded_from_there(tmp_path) -> None:
    plain = "".join(f"[    1.{i:06d}] plain line {i}\n" for i in range(200))
    mail = "> Unhandled data read at 0x1c25014(4)\n> pc=3D0xc0543d64 hsr=3D0x93850007\n> r0=3D0x00000030\n"
    got = _lines(write(tmp_path, plain + mail))
    assert got[-2] == (202, "pc=0xc0543d64 hsr=0x93850007") and got[-1] == (203, "r0=0x00000030")


def test_vim_paste_with_line_numbers_and_literal_carriage_returns() -> None:
    assert clean(" 21 ^MACRN:\\>reboot^M") == "ACRN:\\>reboot"
    assert clean("  9 ^M=     RSP=0x000000000A411610^M") == "=     RSP=0x000000000A411610"
