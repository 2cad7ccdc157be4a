"""Every form a patch arrives in by mail: mbox series, MIME multipart and attachments, quoted-printable
and base64, PGP (inline and MIME), replies quoting the patch at one or more levels, CRLF, list
footers, mail-client wrapping. The mails are built here with the standard library's own encoders
(what real mailers produce), around a small diff of our own."""

from __future__ import annotations

import email.charset
import email.generator
import io
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from hvcheck.backport.readers.mail import normalise_subject, read_messages, series_of
from hvcheck.backport.readers.patchfile import read_patch

DIFF = ("diff --git a/kernel/cgroup/cpuset.c b/kernel/cgroup/cpuset.c\n"
        "index 0123456..789abcd 100644\n"
        "--- a/kernel/cgroup/cpuset.c\n"
        "+++ b/kernel/cgroup/cpuset.c\n"
        "@@ -3398,6 +3398,9 @@ static int cpuset_can_fork(struct task_struct *task)\n"
        " \t/* Mark attach is in progress. */\n"
        " \tcs->attach_in_progress++;\n"
        " out_unlock:\n"
        "+\tif (ret)\n"
        "+\t\treset_migrate_dl_data(cs);\n"
        "+\n"
        " \tmutex_unlock(&cpuset_mutex);\n"
        " \treturn ret;\n"
        " }\n")
BODY = ("commit 4a39eda5fdd867fc39f3c039714dd432cee00268 upstream.\n\n"
        "Reset the DL migration state when can_attach() fails.\n\n"
        "Fixes: 2ef269ef1ac0 (\"cgroup/cpuset: Free DL BW in case can_attach() fails\")\n"
        "Signed-off-by: A Developer <dev@example.org>\n---\n kernel/cgroup/cpuset.c | 3 +++\n 1 file changed\n\n"
        + DIFF + "-- \n2.43.0\n")


def _mail(msg: MIMEText | MIMEMultipart, subject: str, frm: str = "From 1234 Mon Sep 17 00:00:00 2001\n") -> str:
    msg["Subject"] = subject
    msg["From"] = "A Developer <dev@example.org>"
    msg["Message-ID"] = "<1@example.org>"
    out = io.StringIO()
    email.generator.Generator(out, mangle_from_=False, maxheaderlen=0).flatten(msg)
    return frm + out.getvalue()


def _added(text: str) -> list[str]:
    patch = read_patch("m.eml", text)
    return [x for b in patch.blocks() for x in b.added_text()]


EXPECTED = ["\tif (ret)", "\t\treset_migrate_dl_data(cs);", ""]


def test_plain_mail_refs_subject_and_signature() -> None:
    text = _mail(MIMEText(BODY, "plain", "us-ascii"), "[PATCH 6.1 431/522] cgroup/cpuset: Reset DL migration state")
    patch = read_patch("m.eml", text)
    assert _added(text) == EXPECTED
    msg = patch.messages[0]
    assert msg.series == (431, 522)
    kinds = {(r.kind, r.sha[:12]) for r in msg.refs}
    assert ("upstream", "4a39eda5fdd8") in kinds and ("fixes", "2ef269ef1ac0") in kinds
    # the `+++`/`---` and `-- ` signature lines never became diff lines
    assert patch.problems == []


def test_quoted_printable_body() -> None:
    cs = email.charset.Charset("utf-8")
    cs.body_encoding = email.charset.QP
    part = MIMEText(BODY.replace("A Developer", "Ärne Dévelopér") + "\n" + "x" * 120 + "\n", "plain", cs)
    text = _mail(part, "[PATCH] qp")
    assert "=\n" in text or "=3D" in text or "=C3" in text  # really encoded
    assert _added(text) == EXPECTED


def test_base64_body_and_crlf() -> None:
    cs = email.charset.Charset("utf-8")
    cs.body_encoding = email.charset.BASE64
    text = _mail(MIMEText(BODY, "plain", cs), "[PATCH] b64").replace("\n", "\r\n")
    assert "cs->attach_in_progress" not in text  # the diff is only inside the base64
    patch = read_patch("m.eml", text)
    assert [x for b in patch.blocks() for x in b.added_text()] == EXPECTED
    assert any("base64" in h for h in patch.messages[0].how)


def test_multipart_with_patch_attachment_and_list_footer() -> None:
    outer = MIMEMultipart("mixed")
    outer.attach(MIMEText("Please apply for 6.1.\n", "plain"))
    att = MIMEApplication(BODY.encode(), "octet-stream")
    att.add_header("Content-Disposition", "attachment", filename="0001-cpuset.patch")
    outer.attach(att)
    outer.attach(MIMEText("_______________________________________________\nXen-devel mailing list\n"
                          "Xen-devel@lists.xenproject.org\n", "plain"))
    text = _mail(outer, "[PATCH] attached")
    assert _added(text) == EXPECTED


def test_pgp_mime_signed_and_inline_clearsigned() -> None:
    signed = MIMEMultipart("signed", protocol="application/pgp-signature", micalg="pgp-sha256")
    signed.attach(MIMEText(BODY, "plain"))
    sig = MIMEApplication(b"-----BEGIN PGP SIGNATURE-----\n\niQEz\n-----END PGP SIGNATURE-----\n", "pgp-signature")
    signed.attach(sig)
    assert _added(_mail(signed, "[PATCH] signed")) == EXPECTED
    # inline: every line starting with '-' is dash-escaped as "- -"
    escaped = "\n".join(("- " + ln) if ln.startswith("-") else ln for ln in BODY.split("\n"))
    inline = ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + escaped
              + "\n-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n-----END PGP SIGNATURE-----\n")
    text = _mail(MIMEText(inline, "plain"), "[PATCH] inline signed")
    assert "- --- a/kernel" in text
    patch = read_patch("m.eml", text)
    assert patch.files[0].path == "kernel/cgroup/cpuset.c"
    assert [x for b in patch.blocks() for x in b.added_text()] == EXPECTED


def _quote(text: str, prefix: str) -> str:
    # mail clients strip the trailing space of a quoted blank context line
    return "\n".join((prefix + ln).rstrip() if ln.strip() == "" else prefix + ln for ln in text.split("\n"))


def test_reply_quoting_the_patch_with_comments_between() -> None:
    quoted = _quote(BODY, "> ")
    lines = quoted.split("\n")
    at = next(i for i, ln in enumerate(lines) if "out_unlock:" in ln)
    lines[at + 1:at + 1] = ["", "In this backport the second hunk is applied to the wrong function!", ""]
    reply = "On Tue, 16 Jun 2026, Greg wrote:\n" + "\n".join(lines) + "\n\nBen.\n"
    text = _mail(MIMEText(reply, "plain"), "Re: [PATCH 6.1 431/522] cgroup/cpuset: Reset DL migration state")
    patch = read_patch("reply.eml", text)
    assert [x for b in patch.blocks() for x in b.added_text()] == EXPECTED
    assert normalise_subject(patch.messages[0].subject) == "cgroup/cpuset: reset dl migration state"
    assert any("quoted at level 1" in h for h in patch.messages[0].how)
    # line numbers point into the reply file, at the quoted `+\tif (ret)` line
    (block,) = patch.blocks()
    assert text.split("\n")[block.patch_line - 1] == ">+\tif (ret)" or \
        text.split("\n")[block.patch_line - 1] == "> +\tif (ret)"


def test_reply_to_a_reply_two_levels_and_no_space_style() -> None:
    for prefix in ("> > ", ">> ", ">>"):
        quoted = _quote(BODY, prefix)
        reply = "> Some earlier remark\n" + quoted + "\n> I agree.\n\nMe too.\n"
        text = _mail(MIMEText(reply, "plain"), "Re: Re: [PATCH] x")
        assert _added(text) == EXPECTED, prefix


def test_mbox_series_with_cover_letter() -> None:
    parts = []
    for n, subject in ((0, "[PATCH 0/2] cover"), (1, "[PATCH 1/2] first"), (2, "[PATCH 2/2] second")):
        body = "cover letter, no diff\n" if n == 0 else BODY.replace("reset_migrate_dl_data", f"reset_{n}")
        parts.append(_mail(MIMEText(body, "plain"), subject, frm=f"From {n:040x} Mon Sep 17 00:00:00 2001\n"))
    text = "\n".join(parts)
    patch = read_patch("series.mbox", text)
    assert [m.series for m in patch.messages] == [(0, 2), (1, 2), (2, 2)]
    assert [fp.message for fp in patch.files] == [1, 2]
    assert [r.sha for r in patch.messages[2].refs if r.kind == "self"] == [f"{2:040x}"]
    assert series_of("[PATCH v3 07/12] x") == (7, 12)


def test_mboxrd_from_escaping_and_latin1_8bit() -> None:
    body = BODY.replace("Reset the DL", ">From here on, reset the DL").replace("A Developer", "Andr\xe9")
    raw = ("From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: [PATCH] x\nContent-Type: text/plain; charset=iso-8859-1\n"
           "Content-Transfer-Encoding: 8bit\n\n" + body).encode("latin-1")
    messages = read_messages(raw.decode("utf-8", "surrogateescape"))
    assert any(ln.startswith("From here on") for ln in messages[0].lines)
    assert any("Andr\xe9" in ln for ln in messages[0].lines)


def test_html_only_mail_is_read() -> None:
    html = "<html><body><pre>" + BODY.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + \
        "</pre></body></html>"
    text = _mail(MIMEText(html, "html"), "[PATCH] html")
    assert _added(text) == EXPECTED


def test_git_log_p_is_split_per_commit() -> None:
    text = ("commit " + "a" * 40 + "\nAuthor: X <x@y>\nDate:   Mon\n\n    first change\n\n" + DIFF
            + "\ncommit " + "b" * 40 + "\nAuthor: X <x@y>\nDate:   Mon\n\n    second change\n\n"
            + DIFF.replace("reset_migrate_dl_data", "reset_two"))
    patch = read_patch("log.txt", text)
    assert [m.subject for m in patch.messages] == ["first change", "second change"]
    assert [m.ref("self").sha[0] for m in patch.messages if m.ref("self")] == ["a", "b"]
    assert len(patch.blocks()) == 2
