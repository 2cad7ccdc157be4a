"""`hvcheck backport` as a user runs it: exit codes, formats, --repo, git revisions, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bp_helpers import ANCHOR, NEW_CASE, insert_after_nth, kvm_file, make_patch, write
from conftest import ROOT, run_hvcheck
from rulecheck import clean, fires

from hvcheck.backport.readers.patchfile import read_patch

DEMO = ROOT / "hvcheck" / "demo" / "examples" / "backport"
F = "kvm_x86.c"


def _seed_patches(tmp: Path) -> tuple[Path, Path]:
    pre = kvm_file()
    up = make_patch(tmp, "up", {F: pre}, {F: insert_after_nth(pre, ANCHOR, NEW_CASE, 0)})
    bp = make_patch(tmp, "bp", {F: pre}, {F: insert_after_nth(pre, ANCHOR, NEW_CASE, 1)})
    return up, bp


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_demo_files_text_and_exit_codes() -> None:
    args = ["backport", str(DEMO / "upstream.patch"), str(DEMO / "backport.patch"),
            "--upstream-tree", str(DEMO / "upstream-pre"), "--backport-tree", str(DEMO / "stable-pre")]
    proc = run_hvcheck(*args)
    assert proc.returncode == 1, proc.stderr
    assert "P001" in proc.stdout and "P002" in proc.stdout
    assert "kvm_arch_dev_ioctl() (system ioctls on /dev/kvm)" in proc.stdout
    fixed = run_hvcheck("backport", str(DEMO / "upstream.patch"), str(DEMO / "backport-fixed.patch"),
                        "--upstream-tree", str(DEMO / "upstream-pre"), "--backport-tree", str(DEMO / "stable-pre"))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "same place" in fixed.stdout


def test_json_and_sarif(tmp_path: Path) -> None:
    up, bp = _seed_patches(tmp_path)
    proc = run_hvcheck("backport", str(up), str(bp), "--format", "json")
    doc = json.loads(proc.stdout)
    assert {f["rule"] for f in doc["findings"]} == {"P001"}
    fires(doc["findings"], "P001")
    clean(doc["findings"], "E001")  # both patches read and every file compared
    finding = doc["findings"][0]
    assert {"rule", "severity", "message", "locations", "data"} <= set(finding)
    assert finding["data"]["confidence"] == "low"
    assert doc["backport"]["pairs"][0]["verdict"] == ["P001"]
    sarif = json.loads(run_hvcheck("backport", str(up), str(bp), "--format", "sarif").stdout)
    assert sarif["version"] == "2.1.0"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def _repo(tmp: Path) -> tuple[Path, str, str, str]:
    """A repo with an upstream branch and a stable branch, each with the change as one commit."""
    repo = tmp / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.org")
    _git(repo, "config", "user.name", "t")
    pre = kvm_file()
    write(repo / F, pre)
    write(repo / "README", "notes\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "stable")
    write(repo / F, insert_after_nth(pre, ANCHOR, NEW_CASE, 1))
    _git(repo, "commit", "-qam", "misplaced backport")
    bad = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "main")
    write(repo / F, insert_after_nth(pre, ANCHOR, NEW_CASE, 0))
    write(repo / "README", "notes\nmore\n")
    _git(repo, "commit", "-qam", "upstream change")
    up = _git(repo, "rev-parse", "HEAD")
    base = _git(repo, "rev-parse", "HEAD~1")
    return repo, up, bad, base


def test_repo_mode_uses_commits_and_their_parents(tmp_path: Path) -> None:
    repo, up, bad, _ = _repo(tmp_path)
    proc = run_hvcheck("backport", "--repo", str(repo), up, bad, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    rules = sorted(f["rule"] for f in doc["findings"])
    assert rules == ["E001", "P001", "P002"], rules
    p001 = fires(doc["findings"], "P001")[0]
    assert p001["data"]["confidence"] == "high"
    e001 = fires(doc["findings"], "E001")[0]
    assert e001["severity"] == "note" and "README (not C)" in e001["message"]


def test_tree_given_as_git_revision(tmp_path: Path) -> None:
    repo, up, bad, base = _repo(tmp_path)
    up_patch = write(tmp_path / "up.patch", _git(repo, "format-patch", "-1", "--stdout", up) + "\n")
    bp_patch = write(tmp_path / "bp.patch", _git(repo, "format-patch", "-1", "--stdout", bad) + "\n")
    proc = run_hvcheck("backport", str(up_patch), str(bp_patch), "--repo", str(repo),
                       "--upstream-tree", base, "--backport-tree", bad, "--format", "json")
    doc = json.loads(proc.stdout)
    p001 = fires(doc["findings"], "P001")[0]
    assert p001["data"]["confidence"] == "high"  # the backport tree is the post-image: detected
    assert p001["data"]["backport"]["function"] == "kvm_arch_vcpu_ioctl"


def test_bad_revision_and_missing_files(tmp_path: Path) -> None:
    repo, up, _, _ = _repo(tmp_path)
    assert "not a commit" in _one_line_error(run_hvcheck("backport", "--repo", str(repo), up, "nosuchrev"))
    assert "no such patch file" in _one_line_error(run_hvcheck("backport", "nope.patch", "nope2.patch"))
    up_p, bp_p = _seed_patches(tmp_path)
    err = _one_line_error(run_hvcheck("backport", str(up_p), str(bp_p), "--upstream-tree", "no-such-dir-or-rev"))
    assert "neither a directory nor a git revision" in err


def test_malformed_and_empty_patches_exit_2(tmp_path: Path) -> None:
    up, _ = _seed_patches(tmp_path)
    empty = write(tmp_path / "empty.patch", "")
    assert "no diff found" in _one_line_error(run_hvcheck("backport", str(up), str(empty)))
    prose = write(tmp_path / "mail.txt", "Subject: hello\n\nJust some words, no diff.\n")
    assert "no diff found" in _one_line_error(run_hvcheck("backport", str(prose), str(up)))
    short = write(tmp_path / "short.patch", "--- a/x.c\n+++ b/x.c\n@@ -1,5 +1,5 @@\n a\n-b\n+c\n")
    err = _one_line_error(run_hvcheck("backport", str(up), str(short)))
    assert "malformed diff" in err and "short.patch:3:" in err and "truncated" in err  # the hunk's header line
    junk = tmp_path / "junk.patch"
    junk.write_bytes(b"\x7fELF\x00\x01\x02" * 100)
    assert "binary file" in _one_line_error(run_hvcheck("backport", str(up), str(junk)))


def test_one_broken_file_is_reported_and_the_rest_compared(tmp_path: Path) -> None:
    up, bp = _seed_patches(tmp_path)
    broken = "diff --git a/other.c b/other.c\n--- a/other.c\n+++ b/other.c\n@@ -1,9 +1,9 @@\n x\n-y\n+z\n"
    mixed = write(tmp_path / "mixed.patch", bp.read_text() + broken)
    proc = run_hvcheck("backport", str(up), str(mixed), "--format", "json")
    doc = json.loads(proc.stdout)
    rules = sorted(f["rule"] for f in doc["findings"])
    assert rules == ["E001", "P001"], rules
    e001 = fires(doc["findings"], "E001")[0]
    assert e001["severity"] == "error" and "other.c" in e001["message"]


def test_binary_and_non_c_files_are_reported_not_analysed(tmp_path: Path) -> None:
    up, bp = _seed_patches(tmp_path)
    binary = ("diff --git a/fw.bin b/fw.bin\nindex 1234567..89abcde 100644\nGIT binary patch\nliteral 3\n"
              "KcmV+b0RR6000031\n\nliteral 0\nHcmV?d00001\n\n")
    doc_change = "diff --git a/Documentation/kvm.rst b/Documentation/kvm.rst\n--- a/Documentation/kvm.rst\n" \
                 "+++ b/Documentation/kvm.rst\n@@ -1,1 +1,2 @@\n title\n+KVM_GET_DEVICE_ATTR on /dev/kvm\n"
    up2 = write(tmp_path / "up2.patch", up.read_text() + binary + doc_change)
    proc = run_hvcheck("backport", str(up2), str(bp), "--format", "json")
    doc = json.loads(proc.stdout)
    note = fires(doc["findings"], "E001")[0]
    assert note["severity"] == "note"
    assert "fw.bin (binary)" in note["message"] and "Documentation/kvm.rst (not C)" in note["message"]
    fires(doc["findings"], "P001")
    only_binary = write(tmp_path / "bin.patch", binary)
    err = _one_line_error(run_hvcheck("backport", str(only_binary), str(only_binary)))
    assert "nothing to compare" in err


def test_parser_tolerates_mail_quilt_crlf_and_signature(tmp_path: Path) -> None:
    text = ("From 123 Mon Sep 17 00:00:00 2001\r\nSubject: [PATCH] x\r\n\r\n---\r\n x.c | 1 +\r\n\r\n"
            "--- a/x.c\r\n+++ b/x.c\r\n@@ -1,3 +1,4 @@ static int trunc_name(struct cgro\r\n a\r\n+b\r\n c\r\n d\r\n"
            "\\ No newline at end of file\r\n-- \r\n2.43.0\r\n")
    patch = read_patch("mail.patch", text)
    assert patch.subject == "[PATCH] x"
    (fp,) = patch.files
    assert fp.path == "x.c" and len(fp.hunks) == 1
    assert fp.hunks[0].section == "static int trunc_name(struct cgro"
    (block,) = patch.blocks()
    assert block.added_text() == ["b"] and block.hunk.numbers()[block.added[0]] == (None, 2)
    assert block.patch_line == 11  # the `+b` line of the input, CRLF or not


def test_cli_module_import_is_lazy() -> None:
    code = ("import sys, hvcheck.backport.cli; "
            "bad = [m for m in ('tree_sitter', 'tree_sitter_c', 'rich', 'email') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_patch_reader_never_crashes_on_arbitrary_text() -> None:
    """Any text either parses or raises InputError: never another exception, never a hang."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hvcheck.errors import InputError

    pieces = st.sampled_from(["diff --git a/x.c b/x.c\n", "--- a/x.c\n", "+++ b/x.c\n", "@@ -1,2 +1,2 @@\n",
                              "@@ -0,0 +1 @@ f(\n", " ctx\n", "-old\n", "+new\n", "\\ No newline at end of file\n",
                              "GIT binary patch\n", "rename from a.c\n", "\n", "junk\r\n", "@@ -a,b +c @@\n"])

    @settings(max_examples=150, deadline=None)
    @given(st.lists(pieces, max_size=25))
    def run(parts: list[str]) -> None:
        try:
            patch = read_patch("fuzz.patch", "".join(parts))
        except InputError:
            return
        for block in patch.blocks():
            assert block.removed or block.added

    run()


def test_whole_check_never_crashes_on_arbitrary_patches(tmp_path: Path) -> None:
    """End to end over fuzzed patch pairs, with a tree on one side: findings or InputError only."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hvcheck.backport.cli import run_backport
    from hvcheck.errors import InputError

    tree = tmp_path / "tree"
    write(tree / "x.c", kvm_file())
    lines = st.sampled_from([" \tcase KVM_GET_SUPPORTED_HV_CPUID:\n", " \t\tbreak;\n", "-\t\tbreak;\n", "+\tcase NEW:\n",
                             "+\t\tr = 1;\n", "-\tdefault:\n", " }\n", "+}\n", "+long f(void)\n", " \t\tr = -EINVAL;\n"])
    hunk = st.builds(lambda a, b, body: f"@@ -{a},{len(body)} +{b},{len(body)} @@ long kvm_arch_dev_ioctl(\n"
                     + "".join(body), st.integers(0, 80), st.integers(0, 80), st.lists(lines, min_size=1, max_size=8))
    patch = st.builds(lambda hs: "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n" + "".join(hs),
                      st.lists(hunk, min_size=1, max_size=3))

    @settings(max_examples=60, deadline=None)
    @given(patch, patch)
    def run(up: str, bp: str) -> None:
        (tmp_path / "u.patch").write_text(up)
        (tmp_path / "b.patch").write_text(bp)
        try:
            result = run_backport(str(tmp_path / "u.patch"), str(tmp_path / "b.patch"), backport_tree=str(tree))
        except InputError:
            return
        assert all(f.rule in {"E001", "P001", "P002", "P003", "P004", "P005", "P006", "P007"}
                   for f in result.findings)

    run()


def test_plain_diff_u_with_timestamps(tmp_path: Path) -> None:
    """GNU `diff -u old new` output (no a/ b/, tab + timestamp after the names) is a valid input."""
    pre = kvm_file()
    write(tmp_path / "x.c.orig", pre)
    write(tmp_path / "src" / "x.c", pre)
    write(tmp_path / "src" / "y.c", pre)
    write(tmp_path / "x.c", insert_after_nth(pre, ANCHOR, NEW_CASE, 0))
    write(tmp_path / "y.c", insert_after_nth(pre, ANCHOR, NEW_CASE, 1))
    up = subprocess.run(["diff", "-u", "x.c.orig", "x.c"], cwd=tmp_path, capture_output=True, text=True).stdout
    bp = subprocess.run(["diff", "-u", "x.c.orig", "y.c"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert "\t" in up.splitlines()[0]  # the timestamp
    patch = read_patch("up.diff", up)
    assert patch.files[0].path == "x.c"
    proc = run_hvcheck("backport", str(write(tmp_path / "up.diff", up)), str(write(tmp_path / "bp.diff", bp)),
                       "--format", "json")
    findings = json.loads(proc.stdout)["findings"]
    # no function names anywhere: placement is not guessed, and that is said (not a silent pass)
    assert [f["rule"] for f in findings] == ["E001"], proc.stdout
    assert findings[0]["severity"] == "note" and "not checked" in findings[0]["message"]
    trees = run_hvcheck("backport", str(tmp_path / "up.diff"), str(tmp_path / "bp.diff"), "--format", "json",
                        "--upstream-tree", str(tmp_path / "src"), "--backport-tree", str(tmp_path / "src"))
    assert sorted(f["rule"] for f in json.loads(trees.stdout)["findings"]) == ["P001", "P002"], trees.stdout
