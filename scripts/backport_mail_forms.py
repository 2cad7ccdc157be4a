#!/usr/bin/env python3
"""The same real backport in the forms people send it: the verdict must not change.

    python3 scripts/backport_mail_forms.py DIR CASE ...

DIR is the --out directory of scripts/backport_real_cases.py (it holds CASE-up.patch and
CASE-bp.patch, `git format-patch` mails). Each backport mail is rewritten as CRLF, a reviewer's
reply quoting it (`> `, a comment inside the hunk), a reply to that reply, quoted-printable,
base64, PGP/MIME, inline PGP (dash-escaped), an attachment, quilt (`Index:`, `linux.orig/`) and
a gmail posting with wrapped `@@` headers; `hvcheck backport` must give each the plain mail's
rules and severities.
"""

from __future__ import annotations

import email.charset
import email.generator
import io
import json
import os
import re
import subprocess
import sys
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

HV = os.path.join(os.path.dirname(sys.executable), "hvcheck")


def flat(msg: Message) -> str:
    out = io.StringIO()
    email.generator.Generator(out, mangle_from_=False, maxheaderlen=0).flatten(msg)
    return out.getvalue()


def variants(mail: str) -> dict[str, str]:
    head, _, body = mail.partition("\n\n")
    found = re.search(r"(?m)^Subject: (.*)$", head)
    subject = found.group(1) if found else "[PATCH] backport"
    v = {"format-patch": mail, "crlf": mail.replace("\n", "\r\n")}
    quoted = "\n".join(("> " + ln).rstrip() if not ln.strip() else "> " + ln for ln in body.split("\n"))
    lines = quoted.split("\n")
    at = next((i for i, ln in enumerate(lines) if ln.startswith("> @@")), 0)
    lines[at + 3:at + 3] = ["", "This line looks wrong to me.", ""]
    v["reply-quoted"] = (f"Subject: Re: {subject}\nFrom: Reviewer <r@example.org>\n\nOn Mon, someone wrote:\n"
                         + "\n".join(lines) + "\n\nThanks.\n")
    inner = v["reply-quoted"].split("\n\n", 1)[1].split("\n")
    v["reply-of-reply"] = f"Subject: Re: Re: {subject}\nFrom: X <x@example.org>\n\n" + \
        "\n".join("> " + ln for ln in inner) + "\nAgreed.\n"
    for enc, name in ((email.charset.QP, "quoted-printable"), (email.charset.BASE64, "base64")):
        cs = email.charset.Charset("utf-8")
        cs.body_encoding = enc
        m = MIMEText(body, "plain", cs)
        m["Subject"] = subject
        m["From"] = "a@example.org"
        v[name] = flat(m)
    signed = MIMEMultipart("signed", protocol="application/pgp-signature", micalg="pgp-sha256")
    signed.attach(MIMEText(body, "plain"))
    signed.attach(MIMEApplication(b"-----BEGIN PGP SIGNATURE-----\n\nx\n-----END PGP SIGNATURE-----\n", "pgp-signature"))
    signed["Subject"] = subject
    v["pgp-mime"] = flat(signed)
    esc = "\n".join(("- " + ln) if ln.startswith("-") else ln for ln in body.split("\n"))
    v["pgp-inline"] = (f"Subject: {subject}\n\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{esc}\n"
                       "-----BEGIN PGP SIGNATURE-----\n\nx\n-----END PGP SIGNATURE-----\n")
    att = MIMEMultipart("mixed")
    att.attach(MIMEText("See attached.\n", "plain"))
    part = MIMEApplication(body.encode(), "octet-stream")
    part.add_header("Content-Disposition", "attachment", filename="0001-fix.patch")
    att.attach(part)
    att["Subject"] = subject
    v["attachment"] = flat(att)
    q = re.sub(r"(?m)^diff --git a/(\S+) b/\S+\n(?:index .*\n)?--- a/\S+\n\+\+\+ b/\S+$",
               lambda m: f"Index: linux/{m.group(1)}\n{'=' * 67}\n--- linux.orig/{m.group(1)}\n+++ linux/{m.group(1)}",
               body)
    v["quilt"] = f"Subject: {subject}\n\n{q}"
    g = re.sub(r"(?m)^(@@ [^\n]{0,50}@@ [^\n]{20,}?) ([^\n]{5,})$", r"\1\n\2", body)
    v["gmail-wrapped"] = f"Subject: {subject}\n\n" + "\n".join(ln.rstrip() if ln.strip() == "" else ln
                                                               for ln in g.split("\n"))
    return v


def verdict(up: str, bp: str) -> str:
    p = subprocess.run([HV, "backport", up, bp, "--format", "json"], capture_output=True, text=True)
    if p.returncode == 2:
        return "exit 2: " + p.stderr.strip()[:100]
    found = json.loads(p.stdout)["findings"]
    return ", ".join(sorted(f"{x['rule']}/{x['severity'][0]}" for x in found
                            if x["rule"] != "E001" or x["severity"] == "error")) or "none"


def main(argv: list[str]) -> int:
    out, cases = argv[0], argv[1:]
    total = same = 0
    for cid in cases:
        up, bp_path = os.path.join(out, f"{cid}-up.patch"), os.path.join(out, f"{cid}-bp.patch")
        with open(bp_path, encoding="utf-8", errors="replace") as fh:
            forms = variants(fh.read())
        base = verdict(up, bp_path)
        ok = 0
        for name, text in forms.items():
            path = os.path.join(out, f"{cid}-{name}.eml")
            with open(path, "w", newline="") as fh:
                fh.write(text)
            got = verdict(up, path)
            ok += got == base
            if got != base:
                print(f"  {cid} {name}: {got}  (plain mail: {base})")
        print(f"{cid}: {ok}/{len(forms)} forms give the plain mail's verdict ({base})")
        total += len(forms)
        same += ok
    print(f"forms: {same}/{total} same verdict")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
