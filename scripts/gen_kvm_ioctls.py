#!/usr/bin/env python3
"""Generate hvcheck/x86/data/kvm_ioctls.json from the kernel uapi header <linux/kvm.h>.

    python3 scripts/gen_kvm_ioctls.py [--header /usr/include/linux/kvm.h] [--cc gcc]

The header is parsed for every ``#define KVM_* _IO*(KVMIO, nr, type)`` and ``KVM_CAP_*``; the
32-bit request values are not computed in Python but printed by a C program compiled against the
same headers with the host compiler, so the struct sizes are the compiler's (x86_64 ABI when run
on x86_64). Macros whose argument type does not exist on this architecture (ARM, s390, PowerPC
structs) fail to compile and are listed as ``not_compiled``. The header version comes from
<linux/version.h> and, when available, the Debian package that owns the header.

Which fd classes accept each ioctl is kernel-source knowledge, not header data: it lives in the
hand-written hvcheck/x86/kvm_fd_classes.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "hvcheck" / "x86" / "data" / "kvm_ioctls.json"
IOCTL_RE = re.compile(r"^#define\s+(KVM_\w+)\s+(_IO|_IOR|_IOW|_IOWR)\(\s*KVMIO\s*,\s*(0x[0-9a-fA-F]+|\d+)\s*"
                      r"(?:,\s*([^)]*?)\s*)?\)\s*$")
CAP_RE = re.compile(r"^#define\s+(KVM_CAP_\w+)\s+(\d+)\s*$")


def logical_lines(text: str) -> list[str]:
    """Join backslash continuations and drop /* */ comments so each #define is one line."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = text.replace("\\\n", " ")
    return [re.sub(r"\s+", " ", line).strip() for line in text.splitlines()]


def parse_header(path: Path) -> tuple[list[dict], dict[str, int]]:
    ioctls, caps = [], {}
    for line in logical_lines(path.read_text()):
        m = IOCTL_RE.match(line)
        if m:
            ioctls.append({"name": m.group(1), "macro": m.group(2), "nr": int(m.group(3), 0),
                           "type": (m.group(4) or "").strip() or None})
            continue
        c = CAP_RE.match(line)
        if c:
            caps[c.group(1)] = int(c.group(2))
    return ioctls, caps


def compile_values(header: Path, names: list[str], cc: str) -> tuple[dict[str, int], list[str]]:
    """Value of each macro as the C compiler sees it; names that do not compile are dropped."""
    remaining = list(names)
    dropped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "kvm_ioctls.c", Path(tmp) / "kvm_ioctls"
        for _ in range(len(names) + 1):
            head = f'#include <stdio.h>\n#include <{header.name if header.parent.name != "linux" else "linux/kvm.h"}>\n'
            body = "".join(f'    printf("%s %#x\\n", "{n}", (unsigned int){n});\n' for n in remaining)
            src.write_text(head + "int main(void)\n{\n" + body + "    return 0;\n}\n")
            first_body_line = 5
            inc = ["-I", str(header.parent.parent)] if header.parent.name == "linux" else ["-I", str(header.parent)]
            proc = subprocess.run([cc, *inc, "-o", str(exe), str(src)], capture_output=True, text=True)
            if proc.returncode == 0:
                break
            bad_lines = {int(m.group(1)) for m in re.finditer(r"kvm_ioctls\.c:(\d+):\d+: error", proc.stderr)}
            bad = {remaining[n - first_body_line] for n in bad_lines if 0 <= n - first_body_line < len(remaining)}
            if not bad:
                sys.exit(f"compiler failed without a usable error line:\n{proc.stderr[-2000:]}")
            dropped.extend(sorted(bad))
            remaining = [n for n in remaining if n not in bad]
        run = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    values = {}
    for line in run.stdout.splitlines():
        name, value = line.split()
        values[name] = int(value, 16) if value.startswith("0x") else int(value)
    return values, dropped


def header_version(header: Path) -> dict[str, str | None]:
    version = None
    vfile = header.parent / "version.h"
    if vfile.is_file():
        m = re.search(r"LINUX_VERSION_CODE\s+(\d+)", vfile.read_text())
        if m:
            code = int(m.group(1))
            version = f"{code >> 16}.{code >> 8 & 0xFF}.{code & 0xFF}"
            sub = re.search(r"LINUX_VERSION_SUBLEVEL\s+(\d+)", vfile.read_text())
            if sub:  # the 8-bit SUBLEVEL field saturates at 255; the separate macro does not
                version = f"{code >> 16}.{code >> 8 & 0xFF}.{sub.group(1)}"
    package = None
    try:
        owner = subprocess.run(["dpkg-query", "-S", str(header)], capture_output=True, text=True)
        if owner.returncode == 0:
            pkg = owner.stdout.split(":")[0].strip()
            ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
            package = f"{pkg} {ver.stdout.strip()}"
    except OSError:
        pass
    return {"linux_version": version, "package": package}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--header", default="/usr/include/linux/kvm.h", type=Path)
    ap.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    ap.add_argument("--output", default=OUT, type=Path)
    args = ap.parse_args()
    ioctls, caps = parse_header(args.header)
    values, dropped = compile_values(args.header, [i["name"] for i in ioctls], args.cc)
    rows = []
    for i in ioctls:
        if i["name"] not in values:
            continue
        v = values[i["name"]]
        rows.append({"name": i["name"], "value": f"{v:#010x}", "macro": i["macro"], "nr": i["nr"],
                     "size": v >> 16 & 0x3FFF, "type": i["type"]})
    rows.sort(key=lambda r: (int(r["value"], 16) & 0xFF, r["name"]))
    machine = os.uname().machine
    doc = {
        "generated_by": "scripts/gen_kvm_ioctls.py",
        "header": str(args.header),
        **header_version(args.header),
        "arch": machine,
        "compiler": args.cc,
        "ioctls": rows,
        "not_compiled": sorted(dropped),
        "capabilities": dict(sorted(caps.items(), key=lambda kv: kv[1])),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # One ioctl per line keeps the committed file reviewable in diffs.
    text = json.dumps({k: v for k, v in doc.items() if k not in ("ioctls", "capabilities")}, indent=1)[:-2]
    text += ',\n "ioctls": [\n' + ",\n".join("  " + json.dumps(r) for r in rows) + "\n ],\n"
    text += ' "capabilities": {\n' + ",\n".join(f"  {json.dumps(k)}: {v}" for k, v in doc["capabilities"].items())
    text += "\n }\n}\n"
    json.loads(text)  # the hand-formatted document must still be valid JSON
    args.output.write_text(text)
    print(f"{args.output}: {len(rows)} ioctls, {len(caps)} capabilities, {len(dropped)} not compiled on "
          f"{machine} ({', '.join(dropped)}); header {doc['linux_version']} ({doc['package']})")


if __name__ == "__main__":
    main()
