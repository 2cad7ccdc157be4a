"""Streaming access to console logs: files, ``-`` (stdin), plain or gzip.

Logs can be gigabytes, so nothing here holds more than one line (capped at ``MAX_LINE``
bytes) in memory. Readers see :class:`LogLine` objects whose text is already cleaned of what
consoles and archives add: CR/LF endings, ANSI colour, control bytes, and per-line prefixes
(dmesg timestamps, journald/syslog headers, serial-console timestamps, VMM wrappers).
"""

from __future__ import annotations

import gzip
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from hvcheck.errors import InputError

MAX_LINE = 64 * 1024          # longer lines are cut (the rest is skipped, line numbers stay right)
CHUNK = 1 << 20               # bytes read at a time
SNIFF_BYTES = 4096            # how much of the start decides "this is not a text log"
GZIP_MAGIC = b"\x1f\x8b"
# A gzip log that inflates more than MAX_GZIP_RATIO times its compressed size (once more than
# MAX_GZIP_UNCHECKED bytes came out) is refused as a decompression bomb: real console logs
# compress 5-50x; a bomb ~1000x. A real log that repetitive can still be read uncompressed.
MAX_GZIP_RATIO = 200
MAX_GZIP_UNCHECKED = 1 << 20


@dataclass(frozen=True, slots=True)
class LogLine:
    path: str
    number: int       # 1-based physical line number in the (decompressed) file
    text: str         # cleaned text (see clean())
    raw: str          # decoded text before prefix stripping (for evidence quotes)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Per-line prefixes added by whatever captured the console. Applied repeatedly (a journald
# line can carry a dmesg timestamp too). They never match hvisor's own "[ERROR 3]" records.
_PREFIXES = re.compile(
    r"^(?:"
    r"<\d{1,2}>"                                                       # syslog priority
    r"|\[\s*\d+\.\d+\]\s?"                                              # dmesg [ 1.234567]
    r"|\[\s*[TC]\d+\]\s?"                                               # printk caller id [ T1]
    r"|\[\s*\d+\.\d+\s+\d+\.\d+\]\s?"                                   # grabserial [0.1 0.001]
    r"|\[\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?\]\s?"            # [2024-01-02 03:04:05.6]
    r"|\[\d\d:\d\d:\d\d(?:[.,]\d+)?\]\s?"                               # minicom [03:04:05.678]
    r"|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [\w.@/\-]+(?:\[\d+\])?: "  # syslog/journalctl
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)? \S+ [\w.@/\-]+(?:\[\d+\])?: "
    r"|\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?\s+(?=\S)"          # bare ISO timestamp
    r"|(?:INFO|WARN|ERROR|DEBUG)\s+linux_log:\s"                        # VMM wrappers
    r"|>+ ?(?=\S|\s+\S)"                                                # mail quoting "> > "
    r")"
)


# Mail archives store pasted logs quoted-printable: "=3D" for "=", "=C2=A0" for a no-break space and a
# trailing "=" for a line the mailer wrapped (a soft break). Detected from the start of the file, or from
# the first block that shows it (a mail pasted after plain text); from there on decoded.
# Only what mailers actually encode is decoded: "=3D" (the "=" itself), tabs and spaces before a line end, and
# UTF-8 sequences (=C2=A0, =E2=80=99). "pgd=10000000bffff003" in a plain log next to a pasted mail stays.
_QP_BYTE = re.compile(rb"=3D|=(?:20|09)(?==?\n|$)|(?:=[C-F][0-9A-F])(?:=[89AB][0-9A-F]){1,3}")
QP_WRAP_MIN = 60
_QP_MARKERS = (b"=3D", b"=20\n", b"=C2=A0", b"=E2=80")
# A paste from vim with line numbers and literal "^M" carriage returns: " 21 ^MACRN:\>reboot^M".
_VIM_NUMBER = re.compile(r"^\s*\d{1,6} (?=\^M)")


def looks_quoted_printable(head: bytes) -> bool:
    if b"content-transfer-encoding: quoted-printable" in head.lower():
        return True
    markers = sum(head.count(m) for m in _QP_MARKERS)
    return markers >= 2 and markers + head.count(b"=\n") >= 3


def qp_decode(block: bytes) -> bytes:
    """Decode quoted-printable text that ends on a line boundary. A soft-broken line is joined with its
    continuation at its first line's number, and one empty line is kept for each line joined into it,
    so every later line keeps its physical line number."""
    if b"=\n" in block:
        out: list[bytes] = []
        pending: list[bytes] = []
        for line in block.split(b"\n"):
            # mailers wrap at 76 columns: a short line ending in "=" is text, not a soft break
            if line.endswith(b"=") and not line.endswith(b"==") and len(line) >= QP_WRAP_MIN:
                pending.append(line[:-1])
                continue
            if pending:
                out.append(b"".join(pending) + line)
                out.extend(b"" for _ in pending)
                pending = []
            else:
                out.append(line)
        if pending:
            out.append(b"".join(pending))
        block = b"\n".join(out)
    return _QP_BYTE.sub(_qp_bytes, block) if b"=" in block else block


def _qp_bytes(m: re.Match[bytes]) -> bytes:
    return bytes(int(m.group(0)[i + 1:i + 3], 16) for i in range(0, len(m.group(0)), 3))


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


def strip_prefixes(text: str) -> str:
    for _ in range(4):
        m = _PREFIXES.match(text)
        if not m or m.end() == 0:
            break
        text = text[m.end():]
    return text


def clean(text: str) -> str:
    """ANSI sequences and control bytes removed, line ending dropped, prefixes stripped."""
    text = text.rstrip("\r\n")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\u00a0" in text:
        text = text.replace("\u00a0", " ")
    if "^M" in text:
        text = _VIM_NUMBER.sub("", text).replace("^M", "")
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    return strip_prefixes(text.replace("\r", ""))


def looks_binary(head: bytes) -> str | None:
    """Why ``head`` is not a text log, or None. A serial console may carry some junk; a file
    that is mostly NULs or non-text bytes is an image, an archive or a core dump."""
    if head.startswith(b"\x7fELF"):
        return "an ELF file, not a log"
    if len(head) < 256:
        return None     # too little to judge; a short file is read as text
    nul = head.count(0)
    if nul > len(head) // 20:
        return f"binary data, not a text log ({nul} NUL bytes in the first {len(head)})"
    text = head.decode("utf-8", "replace")
    bad = text.count("\ufffd") + len(_CONTROL.findall(text))
    if bad > len(text) * 0.3:
        return f"binary data, not a text log ({bad} of the first {len(text)} characters are not text)"
    return None


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _open(path: str) -> BinaryIO:
    if path == "-":
        stdin = sys.stdin
        if stdin is None or getattr(stdin, "buffer", None) is None:   # started with fd 0 closed
            raise InputError("-", "standard input is closed: pipe a log into hvcheck or give a file")
        return stdin.buffer
    refuse_blocking_special_file(path)
    try:
        fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by iter_chunks
    except OSError as exc:
        raise InputError(path, f"cannot read log: {exc.strerror or exc}") from None
    return fh


def refuse_blocking_special_file(path: str) -> None:
    """A named pipe with no writer blocks open() forever and a character device (/dev/zero, a tty)
    never ends: logs are regular files (or '-', which may be anything the shell connects)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return      # open() reports it, with the same wording as for any unreadable log
    kinds = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISDIR, "a directory"))
    for test, what in kinds:
        if test(mode):
            hint = "give a log file" if what == "a directory" else "pipe it into `hvcheck triage -` instead"
            raise InputError(path, f"is {what}, not a log file: {hint}")


def _peek(stream: BinaryIO, n: int) -> bytes:
    peek = getattr(stream, "peek", None)
    return peek(n)[:n] if peek is not None else b""


def iter_chunks(path: str, block: int = CHUNK) -> Iterator[bytes]:
    """The (decompressed) log in blocks that end on a line boundary (the last may not).

    A line longer than MAX_LINE is cut to MAX_LINE bytes and the rest skipped without being
    held, so memory stays bounded by ``block + MAX_LINE`` whatever the input; line numbers
    stay right because nothing containing a newline is ever skipped.
    """
    name = display_name(path)
    base = _open(path)
    try:
        stream: BinaryIO = base
        gzipped = _peek(base, 2) == GZIP_MAGIC
        if gzipped:
            stream = gzip.GzipFile(fileobj=base, mode="rb")  # type: ignore[assignment]
        done = 0
        inflated = 0
        try:
            why = looks_binary(_peek(stream, SNIFF_BYTES))
            if why:
                raise InputError(name, why, line=1)
            head = _peek(stream, SNIFF_BYTES)
            # Some serial captures end lines with a bare CR: read those as line ends.
            cr_only = b"\r" in head and b"\n" not in head
            quoted_printable = looks_quoted_printable(head.replace(b"\r\n", b"\n"))
            carry = b""
            skipping = False
            while True:
                data = stream.read(block)
                if gzipped:
                    inflated += len(data)
                    _check_gzip_ratio(name, base, inflated, done + 1)
                if cr_only:
                    data = data.replace(b"\r", b"\n")
                elif quoted_printable and b"\r" in data:
                    data = data.replace(b"\r\n", b"\n")
                if not data:
                    if carry:
                        yield qp_decode(carry) if quoted_printable else carry
                    return
                done += data.count(b"\n")
                if skipping:
                    nl = data.find(b"\n")
                    if nl < 0:
                        continue
                    data, skipping = data[nl:], False      # keep the newline: it ends the cut line
                data = carry + data if carry else data
                if not quoted_printable and looks_quoted_printable(data):
                    # a mail pasted after plain text (or a concatenation of logs): decode from here on
                    quoted_printable = True
                    data = data.replace(b"\r\n", b"\n")
                cut = data.rfind(b"\n") + 1
                if quoted_printable:
                    # a soft-broken line continues in the next block: hold it back whole
                    while (cut >= 2 and data[cut - 2:cut] == b"=\n" and len(data) - cut < MAX_LINE
                           and cut - 1 - (data.rfind(b"\n", 0, cut - 1) + 1) >= QP_WRAP_MIN):
                        cut = data.rfind(b"\n", 0, cut - 1) + 1
                carry = data[cut:]
                if len(carry) > MAX_LINE:
                    carry, skipping = carry[:MAX_LINE], True
                if cut:
                    yield qp_decode(data[:cut]) if quoted_printable else data[:cut]
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputError(name, f"cannot decompress/read log: {exc}", line=done + 1) from None
    finally:
        if base is not sys.stdin.buffer:
            base.close()


def _check_gzip_ratio(name: str, compressed: BinaryIO, inflated: int, line: int) -> None:
    if inflated <= MAX_GZIP_UNCHECKED:
        return
    try:
        read = compressed.tell()
    except (OSError, ValueError):
        return      # a pipe: no position to compare with
    if inflated > MAX_GZIP_RATIO * max(read, 1):
        raise InputError(name, f"gzip data inflates more than {MAX_GZIP_RATIO}x ({inflated} bytes from the first "
                               f"{read}): a decompression bomb? A real log this repetitive can be given "
                               "uncompressed (zcat LOG | hvcheck triage -)", line=line)


def iter_raw_lines(path: str) -> Iterator[bytes]:
    """Physical lines as bytes, each cut to at most MAX_LINE bytes (no line ending)."""
    for chunk in iter_chunks(path):
        lines = chunk.split(b"\n")
        if chunk.endswith(b"\n"):
            lines.pop()
        for line in lines:
            yield line[:MAX_LINE]


def iter_lines(path: str) -> Iterator[LogLine]:
    """Cleaned lines. Convenience for tests and small logs; the scanner uses raw lines."""
    name = display_name(path)
    for number, raw in enumerate(iter_raw_lines(path), 1):
        decoded = raw.decode("utf-8", "replace")
        yield LogLine(name, number, clean(decoded), decoded.rstrip("\r\n"))
