#!/usr/bin/env python3
"""Re-run the real-case score of docs/backport-real-cases.md: `hvcheck backport` on real
upstream/backport commit pairs of DPDK and Xen, with patches only and with both trees.

    python3 scripts/backport_real_cases.py --dpdk DPDK_GIT --xen XEN_GIT [--out DIR] [CASE ...]

DPDK_GIT must hold the commits of both DPDK/dpdk and DPDK/dpdk-stable (e.g. `git init` and
`git fetch` both into it); XEN_GIT is a clone of xen-project/xen with its stable branches.
Each commit is exported with `git format-patch -1` (what a reviewer receives); with trees,
the repository is given as --upstream-tree/--backport-tree and hvcheck reads each side's
parent revision from it (the mails name their commit).

The expected verdicts below were written from the fix commits (their messages and diffs) and,
for the correct sample, from the selection rule (released stable commits that no later
`Fixes:` names) BEFORE hvcheck was run on them. Nothing fetched is stored in this repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

# (case, repo key, upstream commit, backport commit, expected, what the truth is based on)
# expected: "error" = a misplacement, an error-level P001/P006 must be reported;
#           "warning" = a content defect that a warning (P003/P004/P005/P008) should point at;
#           "correct" = no known defect, no error-level finding allowed.
CASES: list[tuple[str, str, str, str, str, str]] = [
    ("D1", "dpdk", "068acf11cec0", "96a4318baabd", "error", "fix 8ab51c7334ee: applied to the wrong QAT function (gen3)"),
    ("D2", "dpdk", "27eb74ea6e25", "bb8feaacb489", "error", "fix 8effaffad34e: code added into the wrong functions"),
    ("D3", "dpdk", "27eb74ea6e25", "923c56406f20", "error", "fix 01e066b31661: fix backport merge (sessionless -> oop)"),
    ("D4", "dpdk", "27eb74ea6e25", "e87cadfd7e3c", "correct", "24.11 backport of the same commit; no fix exists"),
    ("D6", "dpdk", "b4c4e5675c85", "a07736eb68da", "warning", "fix dc9c799c7da7: trylock instead of lock, no unlock"),
    ("D7", "dpdk", "5fd722308ef2", "3e64dd9f527d", "warning", "fix 5d7ca3df625a: xstats reset mistakenly removed"),
    ("D8", "dpdk", "db8241fea260", "c897ba654d92", "warning", "fix bce514f255b6: rx_queue_cnt update missed"),
    ("D9", "dpdk", "0faa4cfc5027", "1f3a6bf92333", "invisible", "fix 30585e9c4b7b: variable name not adapted"),
    ("X1", "xen", "8fe24090d940", "f17d848c4caa", "warning", "fix 1f27fc448bc6: the backport dropped a hunk"),
    ("X2", "xen", "9fdc10abe945", "fa45f6b5560e", "warning", "fix b2db518e952c: extra `&` on iommu_bitmap"),
    ("X3", "xen", "52daa6a8483e", "3ac64b375183", "warning", "fix 0d233924d4b0: wrong variable in test_gnttab()"),
]
# Correct sample (seed 18): stable commits naming their upstream, 1-3 C files, no later Fixes:.
SAMPLE = {
    "dpdk": ["1011c5f2e70f 289d1b2e3480", "9ac65fa4a246 bed0e6aba0ae", "5cad6d426061 ff0d80191617",
             "7aa564683c2f 168f9cf3455e", "379d49883364 e90020535c03", "bf3f2c07d4ed 32c18e7364e3",
             "480df9f41ec2 c93943c575b4", "c22430a6e5ad 31a28a99fd8a", "ac8ca5922371 5a6878335b81",
             "33f0af6926e5 ed9935258f5c", "ca47a866b539 e930f8622e05", "4cf7c66de711 db92f4e2ce49"],
    "xen": ["8eed56995dc6 1179d51dcb7d", "5f640b621331 a00e08799cc7", "3f9390fea5c5 4709ec829176",
            "a4c5bbb9db07 04e31583bab9", "8e51c8f1d45f 4c3a618b0ada", "f562deb29bbc a2de7dc4d845",
            "b623fde53740 e2a93bed8b9e", "4fc27254deda ef969144a425", "958706fd2e17 190b7f49af64",
            "b576e09b6621 e2d8a6522516", "5c05c4a2b261 fa2d8318033e", "70ad9c5fdeac e2d8a6522516"],
}
for _key, _tag in (("dpdk", "DS"), ("xen", "XS")):
    for _n, _pair in enumerate(SAMPLE[_key]):
        _bp, _up = _pair.split()
        CASES.append((f"{_tag}{_n + 1}", _key, _up, _bp, "correct", "released stable commit, no later Fixes:"))


def _format_patch(repo: str, rev: str, path: str) -> None:
    out = subprocess.run(["git", "-C", repo, "format-patch", "-1", "--stdout", rev],
                         capture_output=True, check=True).stdout
    with open(path, "wb") as fh:
        fh.write(out)


def _run(hvcheck: list[str], args: list[str]) -> tuple[str, list[dict[str, object]]]:
    proc = subprocess.run([*hvcheck, "backport", *args, "--format", "json"], capture_output=True, text=True)
    if proc.returncode == 2:
        return "exit 2: " + proc.stderr.strip()[:120], []
    return "", list(json.loads(proc.stdout)["findings"])


def _summary(findings: list[dict[str, object]]) -> str:
    parts = []
    for f in findings:
        data = f.get("data") or {}
        conf = data.get("confidence", "") if isinstance(data, dict) else ""
        parts.append(f"{f['rule']}/{str(f['severity'])[0]}" + (f"({str(conf)[:1]})" if conf else ""))
    return ", ".join(parts) or "none"


def _score(expected: str, error: str, findings: list[dict[str, object]]) -> bool:
    if error:
        return False
    errors = [f for f in findings if f["severity"] == "error"]
    misplaced = [f for f in errors if f["rule"] in ("P001", "P006")]
    content = [f for f in findings if f["rule"] in ("P003", "P004", "P005", "P008")]
    if expected == "error":
        return bool(misplaced)
    if expected == "warning":
        return bool(content)
    return not errors  # correct, or a defect a patch comparison cannot see: no error allowed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dpdk", required=True)
    ap.add_argument("--xen", required=True)
    ap.add_argument("--out", default=None, help="keep the exported patches and JSON here")
    ap.add_argument("--hvcheck", default=os.path.join(os.path.dirname(sys.executable), "hvcheck"))
    ap.add_argument("cases", nargs="*")
    ns = ap.parse_args()
    repos = {"dpdk": ns.dpdk, "xen": ns.xen}
    out = ns.out or tempfile.mkdtemp(prefix="bp-real-")
    os.makedirs(out, exist_ok=True)
    totals = {"patches": 0, "trees": 0}
    n = 0
    for cid, key, up, bp, expected, why in CASES:
        if ns.cases and cid not in ns.cases:
            continue
        repo = repos[key]
        u, b = os.path.join(out, f"{cid}-up.patch"), os.path.join(out, f"{cid}-bp.patch")
        _format_patch(repo, up, u)
        _format_patch(repo, bp, b)
        e1, f1 = _run([ns.hvcheck], [u, b])
        e2, f2 = _run([ns.hvcheck], [u, b, "--upstream-tree", repo, "--backport-tree", repo])
        with open(os.path.join(out, f"{cid}.json"), "w") as fh:
            json.dump({"patches": f1, "trees": f2}, fh, indent=1)
        ok1, ok2 = _score(expected, e1, f1), _score(expected, e2, f2)
        totals["patches"] += ok1
        totals["trees"] += ok2
        n += 1
        print(f"{cid:5} {expected:9} patches: {'ok ' if ok1 else 'MISS'} {e1 or _summary(f1)}")
        print(f"{'':15} trees:   {'ok ' if ok2 else 'MISS'} {e2 or _summary(f2)}   [{why}]")
    print(f"score: patches only {totals['patches']}/{n}, with trees {totals['trees']}/{n} (patches in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
