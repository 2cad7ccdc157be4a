#!/usr/bin/env python3
"""Compare hvcheck's patch reader with git's own mail reader on real mail files.

    python3 scripts/backport_mail_score.py MAIL_OR_DIR ...

For each file, git's answer is the number of `@@ -` hunk headers in the patches that
`git mailsplit` + `git mailinfo` extract; hvcheck's is the number of hunks
`hvcheck.backport.readers.patchfile.read_patch` reads (and whether it raised, or reported a
malformed hunk). Used for docs/backport-real-cases.md on git's t/t5100 mails, patchwork's test
mails and series, and stable-review mails from a public list archive (none stored here).
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import tempfile

from hvcheck.backport.readers.patchfile import read_patch
from hvcheck.errors import InputError


def git_hunks(path: str) -> int:
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["git", "mailsplit", "-o" + d, path], capture_output=True)
        msgs = sorted(glob.glob(os.path.join(d, "[0-9]*"))) or [path]  # a single mail without "From "
        total = 0
        for n, m in enumerate(msgs):
            patch = os.path.join(d, f"p{n}")
            with open(m, "rb") as fh:
                subprocess.run(["git", "mailinfo", os.path.join(d, f"msg{n}"), patch], stdin=fh, capture_output=True)
            if os.path.exists(patch):
                with open(patch, "rb") as fh:
                    total += len(re.findall(rb"(?m)^@@ -\d", fh.read()))
        return total


def main(args: list[str]) -> int:
    files = [f for a in args for f in (sorted(glob.glob(os.path.join(a, "*"))) if os.path.isdir(a) else [a])]
    counts = {"same": 0, "no diff (both)": 0, "differs": 0}
    for path in files:
        git = git_hunks(path)
        try:
            patch = read_patch(path)
            ours, malformed, status = sum(len(fp.hunks) for fp in patch.files), \
                sum(p.severity == "error" for p in patch.problems), "read"
        except InputError as exc:
            ours, malformed, status = 0, 0, f"exit 2: {exc}"
        if git == ours and not malformed:
            verdict = "same" if git or status == "read" else "no diff (both)"
        else:
            verdict = "differs"
        counts[verdict] += 1
        print(f"{os.path.basename(path):45} git={git:<3} hvcheck={ours:<3} malformed={malformed} {verdict:15} {status[:80]}")
    print(f"mails: {len(files)}; " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
