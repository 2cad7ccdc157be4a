"""From an input file to the text of each message that may carry a diff.

Inputs people send: a bare diff; `git show` / `git log -p` output (split at `commit <sha>`); one
mail or an mbox of several (`From <sha> Mon Sep 17 00:00:00 2001`, mboxrd `From mboxrd@z ...`);
MIME multipart mails (text parts, patch attachments, multipart/alternative, multipart/signed)
with quoted-printable or base64 transfer encodings and any charset; PGP clear-signed bodies
(dash-escaped lines); replies that quote the patch with `> ` at one or more levels, with the
reviewer's comments in between; CRLF line ends. Mailing-list footers need nothing special: hunks
end by their line counts, so text after the last hunk is never read as diff.

Every extracted line keeps the number of the input line it came from, so findings point into the
file the user gave. Base64 parts have no line correspondence: their lines point at the part's
first line and the message says so.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header

from hvcheck.backport.model import UpstreamRef

MAX_MIME_DEPTH = 8  # nested multiparts deeper than this are not descended into
MAX_HEADER_LINES = 2000  # a header block longer than this is not a mail header


@dataclass
class MessageText:
    """One message's text: ``lines`` with ``origin`` (the input line of each, 1-based); None
    means lines[i] is input line ``first_line + i``."""

    subject: str | None
    first_line: int
    lines: list[str]
    origin: list[int] | None
    how: list[str] = field(default_factory=list)
    refs: list[UpstreamRef] = field(default_factory=list)

    def line_no(self, i: int) -> int:
        return self.origin[i] if self.origin is not None else self.first_line + i


_MBOX_FROM = re.compile(r"^From \S+\s+\w{3} \w{3} [ \d]?\d \d\d:\d\d:\d\d \d{4}")
_HEADER = re.compile(r"^([!-9;-~]+):[ \t]?(.*)$")
_GIT_COMMIT = re.compile(r"^commit ([0-9a-f]{40})(?:\s|$)")
_QUOTE = re.compile(r"^(?:> ?)+")


def sniff(text: str) -> MessageText | None:
    """A bare diff (no mail or commit headers, no quoting, no signature) gets the streaming reader:
    return its message (commit ids named before the first diff line) without splitting the text.
    None: anything else, read with :func:`read_messages`."""
    if re.search(r"(?m)^>[> \t]*@@ -\d", text) or "-----BEGIN PGP SIGNED MESSAGE-----" in text:
        return None
    head = text[:1 << 16].split("\n")[:5000]
    if len(text) > 1 << 16:
        head.pop()  # possibly cut in the middle
    head = [ln[:-1] if ln.endswith("\r") else ln for ln in head]
    start = _first_nonblank(head)
    if start is not None and (_MBOX_FROM.match(head[start]) or _looks_like_headers(head, start)
                              or _GIT_COMMIT.match(head[start])):
        return None
    msg = MessageText(None, 1, head, None)
    msg.refs.extend(find_refs(msg))
    msg.lines = []
    return msg


def read_messages(source: str | list[str]) -> list[MessageText]:
    """Split and decode the whole input (already decoded with surrogateescape so no byte is lost)
    into messages. Given as a one-element list, the text is taken out of it and released as soon
    as it is split: at the size limit the text and its lines must not both stay alive."""
    if isinstance(source, list):
        text = source.pop()
    else:
        text = source
    # Cheap whole-text probes (C speed) so a large bare diff skips the line-by-line clean-ups.
    probes = (re.search(r"(?m)^>[> \t]*@@ -\d", text) is not None, "-----BEGIN PGP SIGNED MESSAGE-----" in text)
    crlf = "\r\n" in text[:65536] or "\r\n" in text[-4096:]
    lines = text.split("\n")
    del text
    if lines and lines[-1] == "":
        lines.pop()
    if crlf:  # in place: each old line is freed as its replacement is made
        for i, ln in enumerate(lines):
            if ln.endswith("\r"):
                lines[i] = ln[:-1]
    start = _first_nonblank(lines)
    if start is None:
        return [MessageText(None, 1, lines, None)]
    if _MBOX_FROM.match(lines[start]) or _looks_like_headers(lines, start):
        return _mbox(lines, start, probes)
    if _GIT_COMMIT.match(lines[start]):
        return _git_log(lines, start, probes)
    msg = MessageText(None, 1, lines, None)
    _finish(msg, probes)
    return [msg]


def _first_nonblank(lines: list[str]) -> int | None:
    for i, ln in enumerate(lines[:1000]):
        if ln.strip():
            return i
    return None


def _looks_like_headers(lines: list[str], start: int) -> bool:
    """RFC 822 headers: header lines (with folded continuations) up to a blank line, including
    at least one of From/Subject/Date/Message-ID."""
    seen = False
    for ln in lines[start:start + MAX_HEADER_LINES]:
        if ln == "":
            return seen
        if ln[0] in " \t":
            continue
        m = _HEADER.match(ln)
        if not m:
            return False
        if m.group(1).lower() in ("from", "subject", "date", "message-id"):
            seen = True
    return False


# --- mbox / mail -----------------------------------------------------------------------------------

def _mbox(lines: list[str], start: int, probes: tuple[bool, bool]) -> list[MessageText]:
    starts = [start]
    for i in range(start + 1, len(lines)):
        if _MBOX_FROM.match(lines[i]) and (lines[i - 1] == "" or lines[i - 1].startswith("-- ")) and \
                i + 1 < len(lines) and _HEADER.match(lines[i + 1]):
            starts.append(i)
    out: list[MessageText] = []
    for n, s in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        first = s + 1 if _MBOX_FROM.match(lines[s]) else s
        self_ref = None
        m = re.match(r"^From ([0-9a-f]{40}) ", lines[s])
        if m:
            self_ref = UpstreamRef(m.group(1), "self", s + 1, lines[s][:60])
        msg = _mail(lines, first, end, probes, mboxrd=lines[s].startswith("From mboxrd@"))
        if self_ref is not None:
            msg.refs.insert(0, self_ref)
        out.append(msg)
    return out


def _headers(lines: list[str], start: int, end: int) -> tuple[dict[str, str], int]:
    """Unfolded headers (lower-case names; the first occurrence wins) and the body's first index."""
    headers: dict[str, str] = {}
    name = None
    i = start
    while i < end and i - start < MAX_HEADER_LINES:
        ln = lines[i]
        if ln == "":
            return headers, i + 1
        if ln[0] in " \t" and name is not None:
            headers[name] += " " + ln.strip()
        else:
            m = _HEADER.match(ln)
            if not m:
                return headers, i  # not a header: the body starts here (a missing blank line)
            name = m.group(1).lower()
            if name in headers:
                name = f"{name}\0{i}"  # keep the first; later duplicates (Received:) are ignored
            headers[name] = m.group(2).strip()
        i += 1
    return headers, i


def _params(value: str) -> tuple[str, dict[str, str]]:
    parts = re.split(r';(?=(?:[^"]*"[^"]*")*[^"]*$)', value)
    ctype = parts[0].strip().lower() or "text/plain"
    params: dict[str, str] = {}
    for p in parts[1:]:
        key, _, val = p.partition("=")
        params[key.strip().lower()] = val.strip().strip('"')
    return ctype, params


def _decode_subject(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError, binascii.Error):
        return value


def _mail(lines: list[str], start: int, end: int, probes: tuple[bool, bool], mboxrd: bool = False) -> MessageText:
    headers, body = _headers(lines, start, end)
    subject = _decode_subject(headers.get("subject"))
    msg = MessageText(subject, start + 1, [], [])
    chunks: list[tuple[list[str], list[int], str]] = []
    _entity(lines, start, end, headers, body, chunks, msg.how, 0, mboxrd)
    seen: set[tuple[str, ...]] = set()
    assert msg.origin is not None
    for chunk_lines, origin, _ in chunks:
        key = tuple(chunk_lines)
        if key in seen:  # the same patch inline and attached
            continue
        seen.add(key)
        if msg.lines:
            msg.lines.append("")
            msg.origin.append(origin[0] if origin else start + 1)
        msg.lines.extend(chunk_lines)
        msg.origin.extend(origin)
    # quoted-printable or base64 parts may hide quoting or signatures from the text probes
    decoded = any(h.startswith(("quoted-printable", "base64")) for h in msg.how)
    _finish(msg, (True, True) if decoded else probes)
    return msg


_PATCH_NAME = re.compile(r"\.(patch|diff|txt)$", re.I)
_TEXTUAL = ("text/plain", "text/x-patch", "text/x-diff", "text/x-c", "text/x-csrc", "application/x-patch",
            "application/x-diff", "text/x-log")


def _entity(lines: list[str], start: int, end: int, headers: dict[str, str], body: int,
            out: list[tuple[list[str], list[int], str]], how: list[str], depth: int, mboxrd: bool) -> None:
    ctype, params = _params(headers.get("content-type", "text/plain"))
    cte = headers.get("content-transfer-encoding", "7bit").strip().lower()
    charset = params.get("charset", "utf-8")
    name = params.get("name") or _params(headers.get("content-disposition", ""))[1].get("filename", "")
    if ctype.startswith("multipart/") and depth < MAX_MIME_DEPTH:
        parts = _split_multipart(lines, body, end, params.get("boundary", ""))
        if not parts:  # no boundary found: treat the body as text
            _text_part(lines, body, end, "7bit", charset, "text/plain", out, how, mboxrd)
            return
        if ctype == "multipart/alternative":
            chosen = [p for p in parts if _params(_headers(lines, p[0], p[1])[0].get("content-type", "text/plain"))[0]
                      == "text/plain"] or parts[:1]
            parts = chosen[:1]
        elif ctype == "multipart/signed":
            parts = parts[:1]
            how.append("multipart/signed: the signed part is read, the signature skipped")
        for p_start, p_end in parts:
            p_headers, p_body = _headers(lines, p_start, p_end)
            _entity(lines, p_start, p_end, p_headers, p_body, out, how, depth + 1, mboxrd)
        return
    if ctype == "message/rfc822" and depth < MAX_MIME_DEPTH:
        inner, inner_body = _headers(lines, body, end)
        _entity(lines, body, end, inner, inner_body, out, how, depth + 1, mboxrd)
        return
    textual = ctype in _TEXTUAL or ctype == "text/html" or (
        ctype == "application/octet-stream" and bool(_PATCH_NAME.search(name)))
    if not textual and not (ctype.startswith("text/") and _PATCH_NAME.search(name)):
        return
    _text_part(lines, body, end, cte, charset, ctype, out, how, mboxrd)


def _split_multipart(lines: list[str], body: int, end: int, boundary: str) -> list[tuple[int, int]]:
    if not boundary:
        return []
    delim = "--" + boundary
    parts: list[tuple[int, int]] = []
    current = None
    for i in range(body, end):
        ln = lines[i]
        if ln.startswith(delim):
            rest = ln[len(delim):].rstrip()
            if current is not None:
                parts.append((current, i))
            if rest == "--":
                return parts
            current = i + 1
    if current is not None:
        parts.append((current, end))
    return parts


def _recode(text: str, charset: str) -> str:
    """``text`` was decoded as UTF-8 with surrogateescape; redo it in the part's charset."""
    if charset.lower() in ("utf-8", "utf8", "us-ascii", "ascii"):
        if text.isascii():  # no escaped bytes: the round trip gives the same text; keep the object
            return text
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    try:
        return text.encode("utf-8", "surrogateescape").decode(charset, "replace")
    except LookupError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _text_part(lines: list[str], body: int, end: int, cte: str, charset: str, ctype: str,
               out: list[tuple[list[str], list[int], str]], how: list[str], mboxrd: bool) -> None:
    if cte == "quoted-printable":
        text_lines, origin = _quoted_printable(lines, body, end, charset)
        how.append("quoted-printable part decoded")
    elif cte == "base64":
        raw = "".join(lines[body:end]).strip()
        try:
            data = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=False)
        except (binascii.Error, ValueError):
            how.append(f"base64 part at line {body + 1} could not be decoded")
            return
        try:
            decoded = data.decode(charset, "replace")
        except LookupError:
            decoded = data.decode("utf-8", "replace")
        text_lines = decoded.replace("\r\n", "\n").split("\n")
        if text_lines and text_lines[-1] == "":
            text_lines.pop()
        origin = [body + 1] * len(text_lines)
        how.append(f"base64 part decoded (its lines are reported at the part's first line, {body + 1})")
    else:
        text_lines = [_recode(ln, charset) for ln in lines[body:end]]
        if mboxrd:
            text_lines = [ln[1:] if re.match(r"^>+From ", ln) else ln for ln in text_lines]
        origin = list(range(body + 1, end + 1))
    if ctype == "text/html":
        text_lines = _html_to_text(text_lines)
        origin = [body + 1] * len(text_lines)  # tags removed: lines no longer match the input's
        how.append("HTML part converted to text (best effort; its lines are reported at the part's first line)")
    out.append((text_lines, origin, ctype))


def _quoted_printable(lines: list[str], body: int, end: int, charset: str) -> tuple[list[str], list[int]]:
    out: list[str] = []
    origin: list[int] = []
    pending = b""
    pending_start = body + 1
    for i in range(body, end):
        ln = lines[i].rstrip(" \t")
        soft = ln.endswith("=")
        if soft:
            ln = ln[:-1]
        if not pending:
            pending_start = i + 1
        pending += _qp_decode(ln.encode("utf-8", "surrogateescape"))
        if not soft:
            out.append(_bytes_to_text(pending, charset))
            origin.append(pending_start)
            pending = b""
    if pending:
        out.append(_bytes_to_text(pending, charset))
        origin.append(pending_start)
    return out, origin


def _qp_decode(data: bytes) -> bytes:
    try:
        return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return data


def _bytes_to_text(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _html_to_text(lines: list[str]) -> list[str]:
    import html

    text = "\n".join(lines)
    text = re.sub(r"(?is)<(script|style).*?</\1>", "", text)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?i)</(p|div|pre|tr)>", "\n", text)
    text = re.sub(r"<[^>]{0,2000}>", "", text)
    return html.unescape(text).split("\n")


# --- git show / git log -p -----------------------------------------------------------------------

def _git_log(lines: list[str], start: int, probes: tuple[bool, bool]) -> list[MessageText]:
    starts = [i for i in range(start, len(lines)) if _GIT_COMMIT.match(lines[i])]
    out: list[MessageText] = []
    for n, s in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        subject = None
        for ln in lines[s + 1:min(end, s + 40)]:
            if ln.startswith("    ") and ln.strip():
                subject = ln.strip()
                break
        sha = _GIT_COMMIT.match(lines[s])
        assert sha is not None
        msg = MessageText(subject, s + 1, lines[s:end], None)
        msg.refs.append(UpstreamRef(sha.group(1), "self", s + 1, lines[s][:60]))
        _finish(msg, probes)
        out.append(msg)
    return out


# --- body clean-up: PGP clear-signing, quoting, commit ids ---------------------------------------

def _finish(msg: MessageText, probes: tuple[bool, bool]) -> None:
    quoted, signed = probes
    if signed:
        _unwrap_pgp(msg)
    if quoted:
        _unquote(msg)
    msg.refs.extend(find_refs(msg))


def _unwrap_pgp(msg: MessageText) -> None:
    lines = msg.lines
    try:
        begin = next(i for i, ln in enumerate(lines) if ln.strip() == "-----BEGIN PGP SIGNED MESSAGE-----")
    except StopIteration:
        return
    i = begin + 1
    while i < len(lines) and lines[i].strip():  # armor headers (Hash: ...)
        i += 1
    keep: list[int] = []
    j = i + 1
    while j < len(lines) and lines[j].strip() != "-----BEGIN PGP SIGNATURE-----":
        keep.append(j)
        j += 1
    end_sig = j
    while end_sig < len(lines) and lines[end_sig].strip() != "-----END PGP SIGNATURE-----":
        end_sig += 1
    new_lines = [ln[2:] if ln.startswith("- ") else ln for ln in (lines[k] for k in keep)]
    new_origin = [msg.line_no(k) for k in keep]
    rest = list(range(0, begin)) + list(range(end_sig + 1, len(lines)))
    msg.lines = [lines[k] for k in range(0, begin)] + new_lines + [lines[k] for k in range(end_sig + 1, len(lines))]
    msg.origin = [msg.line_no(k) for k in range(0, begin)] + new_origin + [msg.line_no(k) for k in rest[begin:]]
    msg.how.append("PGP clear-signed text unwrapped (dash-escaping removed)")


def _quote_depth(line: str) -> tuple[int, int]:
    """(number of `>` quote markers, length of the quote prefix with one optional space after each)."""
    m = _QUOTE.match(line)
    if not m:
        return 0, 0
    return m.group(0).count(">"), m.end()


def _strip_quote(line: str, depth: int, space_after_last: bool) -> str:
    """Remove ``depth`` quote markers: the optional space after every marker but the last, and
    after the last one only when the quoting style puts one there (else it is the diff's own
    context-line space)."""
    pos = 0
    for k in range(depth):
        while pos < len(line) and line[pos] == " " and k:
            pos += 1
        if pos >= len(line) or line[pos] != ">":
            break
        pos += 1
        if pos < len(line) and line[pos] == " " and (k < depth - 1 or space_after_last):
            pos += 1
    return line[pos:]


def _unquote(msg: MessageText) -> None:
    """A reply quoting the patch: keep the quoted lines of the level that carries the most hunk
    headers, drop the reviewer's own text around and between them."""
    counts: dict[int, int] = {}
    spaced: dict[int, int] = {}
    for ln in msg.lines:
        if ln.startswith(">") or ln.startswith("@@ -"):
            depth, plen = _quote_depth(ln)
            at = ln.find("@@ -", plen - 1 if plen else 0)
            if at >= 0 and at <= plen and ln[:at].replace(">", "").strip() == "":
                counts[depth] = counts.get(depth, 0) + 1
                spaced[depth] = spaced.get(depth, 0) + (1 if at and ln[at - 1] == " " else 0)
    if not counts:
        return
    best = max(counts, key=lambda d: (counts[d], -d))
    if best == 0 or counts.get(0, 0) >= counts[best]:
        return
    space_after_last = spaced.get(best, 0) * 2 >= counts[best]
    new_lines: list[str] = []
    new_origin: list[int] = []
    dropped = 0
    for i, ln in enumerate(msg.lines):
        depth, _ = _quote_depth(ln)
        if depth != best:
            dropped += 1
            continue
        new_lines.append(_strip_quote(ln, best, space_after_last))
        new_origin.append(msg.line_no(i))
    msg.lines = new_lines
    msg.origin = new_origin
    msg.how.append(f"patch quoted at level {best} ({'>' * best}) in a reply: quoted lines read, "
                   f"{dropped} line(s) of reply text dropped")


_REF_PATTERNS = (
    (re.compile(r"^\s*commit ([0-9a-f]{12,40}) upstream\b", re.I), "upstream"),
    (re.compile(r"\[\s*upstream commit ([0-9a-f]{7,40})\s*\]", re.I), "upstream"),
    (re.compile(r"cherry[- ]picked from commit ([0-9a-f]{7,40})", re.I), "upstream"),
    (re.compile(r"^\s*master commit: ([0-9a-f]{7,40})", re.I), "upstream"),
    (re.compile(r"^\s*(?:origin|upstream-status):.*?(?:commit[/:=]|/commit/|[?&]id=)\s*([0-9a-f]{7,40})", re.I),
     "upstream"),
    (re.compile(r"^\s*upstream commit:?\s+([0-9a-f]{7,40})", re.I), "upstream"),
    (re.compile(r"^\s*Fixes:\s+([0-9a-f]{7,40})", re.I), "fixes"),
)


def find_refs(msg: MessageText) -> list[UpstreamRef]:
    """Commit ids named in the message's text before its first diff line."""
    refs: list[UpstreamRef] = []
    if msg.subject:
        for pattern, kind in _REF_PATTERNS[:4]:
            m = pattern.search(msg.subject)
            if m:
                refs.append(UpstreamRef(m.group(1), kind, msg.first_line, msg.subject[:80]))
    for i, ln in enumerate(msg.lines[:5000]):
        if ln.startswith(("diff --git ", "--- ", "Index: ", "@@ ")):
            break
        if len(ln) > 400:
            continue
        for pattern, kind in _REF_PATTERNS:
            m = pattern.search(ln)
            if m:
                refs.append(UpstreamRef(m.group(1).lower(), kind, msg.line_no(i), ln.strip()[:100]))
                break
    return refs


_SERIES = re.compile(r"\[[^\]]*?\b(\d+)/(\d+)\s*\]")
_TAGS = re.compile(r"^\s*((re|fwd?|aw|sv)\s*:\s*|\[[^\]]*\]\s*)+", re.I)


def series_of(subject: str | None) -> tuple[int, int] | None:
    if not subject:
        return None
    m = _SERIES.search(subject)
    return (int(m.group(1)), int(m.group(2))) if m else None


def normalise_subject(subject: str | None) -> str:
    """Subject without Re:/Fwd: and [PATCH ...] tags, whitespace folded: the key that pairs a
    stable patch with its upstream posting."""
    if not subject:
        return ""
    return " ".join(_TAGS.sub("", subject).split()).lower()
