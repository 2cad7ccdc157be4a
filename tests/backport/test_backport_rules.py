"""P001-P005, each with a failing and a passing case, on small C files we write here."""

from __future__ import annotations

from pathlib import Path

from bp_helpers import ANCHOR, NEW_CASE, insert_after_nth, kvm_file, rules, scenario
from rulecheck import clean, fires

F = "arch/x86/kvm/x86.c"


def _seed(tmp: Path, backport_into: int, trees: bool = True):
    """Upstream adds NEW_CASE after the anchor in the system dispatcher (occurrence 0); the backport
    adds the same lines after the anchor in dispatcher ``backport_into``. The anchor and the
    following `default:` exist in both dispatchers: the trap."""
    up_pre = kvm_file()
    bp_pre = kvm_file(vcpu_extra="\tvcpu_load(vcpu);\n")  # an older tree: different line numbers
    return scenario(tmp, {F: up_pre}, {F: insert_after_nth(up_pre, ANCHOR, NEW_CASE, 0)},
                    {F: bp_pre}, {F: insert_after_nth(bp_pre, ANCHOR, NEW_CASE, backport_into)}, trees)


def test_anchor_in_both_dispatchers_misplaced_is_p001_and_p002(tmp_path: Path) -> None:
    result = _seed(tmp_path, backport_into=1)
    assert rules(result) == ["P001", "P002"]
    p001 = fires(result.findings, "P001")[0]
    assert "kvm_arch_dev_ioctl()" in p001.message and "kvm_arch_vcpu_ioctl()" in p001.message
    assert "system ioctls on /dev/kvm" in p001.message and "vCPU ioctls" in p001.message
    assert "`case KVM_GET_DEVICE_ATTR`" in p001.message
    assert "already applied" in p001.message  # identical changed lines: patch-id cannot see it
    assert p001.data["confidence"] == "high"
    assert p001.data["upstream"]["function"] == "kvm_arch_dev_ioctl"
    assert p001.data["backport"]["function"] == "kvm_arch_vcpu_ioctl"
    # both files:lines point at the added case label in the respective post-image
    up_line = p001.locations[0].line
    bp_line = p001.locations[1].line
    assert (tmp_path / "up.b" / F).read_text().splitlines()[up_line - 1].strip() == "case KVM_GET_DEVICE_ATTR:"
    assert (tmp_path / "bp.b" / F).read_text().splitlines()[bp_line - 1].strip() == "case KVM_GET_DEVICE_ATTR:"
    p002 = fires(result.findings, "P002")[0]
    assert "KVM_GET_LAPIC" in p002.message and "KVM_GET_MSR_INDEX_LIST" in p002.message


def test_anchor_in_both_dispatchers_correct_is_clean(tmp_path: Path) -> None:
    result = _seed(tmp_path, backport_into=0)
    assert rules(result) == []
    assert result.compared == 1
    clean(result.findings, "P001")  # same function as upstream ...
    clean(result.findings, "P002")  # ... and the same dispatcher's switch


def test_without_trees_falls_back_to_patch_context_with_low_confidence(tmp_path: Path) -> None:
    result = _seed(tmp_path, backport_into=1, trees=False)
    p001 = fires(result.findings, "P001")[0]
    assert p001.data["confidence"] == "low"
    assert "Confidence low" in p001.message
    ok = _seed(tmp_path / "ok", backport_into=0, trees=False)
    assert ok.findings == []
    clean(ok.findings, "P001")


def _two_exits(name: str, body: str) -> str:
    return (f"static int {name}(struct task *task)\n{{\n\tint ret;\n\n\tmutex_lock(&cs_mutex);\n{body}"
            "\tret = check(task);\n\tif (ret)\n\t\tgoto out_unlock;\n\n"
            "\t/* Mark attach is in progress. */\n\tcs->attach_in_progress++;\nout_unlock:\n"
            "\tmutex_unlock(&cs_mutex);\n\treturn ret;\n}\n")


def test_shared_error_exit_tail_cpuset_shape_is_p001_only(tmp_path: Path) -> None:
    """Two functions end with byte-identical `out_unlock:` tails (the 2026 cpuset stable case)."""
    pre = ("#include <x.h>\n\n" + _two_exits("cs_can_attach", "\tprepare(task);\n") + "\n"
           + _two_exits("cs_can_fork", ""))
    fix = "\tif (ret)\n\t\treset_state(cs);\n"
    tail = "out_unlock:\n"
    up_post = insert_after_nth(pre, tail, fix, 0)
    bp_post = insert_after_nth(pre, tail, fix, 1)
    result = scenario(tmp_path, {"cs.c": pre}, {"cs.c": up_post}, {"cs.c": pre}, {"cs.c": bp_post})
    assert rules(result) == ["P001"]
    msg = fires(result.findings, "P001")[0].message
    assert "cs_can_attach()" in msg and "cs_can_fork()" in msg
    assert "leading context" in msg  # the anchor `out_unlock:` occurs in the wrong function too


def test_dropped_hunk_is_p003(tmp_path: Path) -> None:
    pre = kvm_file()
    up_post = insert_after_nth(pre, ANCHOR, NEW_CASE, 0).replace("\tlong r;\n", "\tlong r = 0;\n", 1)
    bp_post = pre.replace("\tlong r;\n", "\tlong r = 0;\n", 1)
    result = scenario(tmp_path, {F: pre}, {F: up_post}, {F: pre}, {F: bp_post})
    assert rules(result) == ["P003"]
    assert "KVM_GET_DEVICE_ATTR" in fires(result.findings, "P003")[0].message
    # Both hunks backported: none missing.
    complete = scenario(tmp_path / "ok", {F: pre}, {F: up_post}, {F: pre}, {F: up_post})
    assert complete.compared == 2
    clean(complete.findings, "P003")


def test_extra_hunk_is_p004(tmp_path: Path) -> None:
    pre = kvm_file()
    up_post = insert_after_nth(pre, ANCHOR, NEW_CASE, 0)
    bp_post = up_post.replace("\t\tr = -EINVAL;\n", "\t\tpr_debug(\"unknown ioctl\\n\");\n\t\tr = -EINVAL;\n", 1)
    result = scenario(tmp_path, {F: pre}, {F: up_post}, {F: pre}, {F: bp_post})
    assert rules(result) == ["P004"]
    (p004,) = fires(result.findings, "P004")
    assert "pr_debug" in p004.message
    assert p004.data["backport"]["function"] == "kvm_arch_dev_ioctl"
    # The same backport without the extra pr_debug line changes nothing upstream does not.
    clean(scenario(tmp_path / "ok", {F: pre}, {F: up_post}, {F: pre}, {F: up_post}).findings, "P004")


def test_reversed_hunk_is_p005(tmp_path: Path) -> None:
    pre = kvm_file()
    old, new = "\t\tr = do_kvm_get_lapic(argp);\n", "\t\tr = do_kvm_get_lapic_checked(argp);\n"
    up_post = pre.replace(old, new)
    # the backport tree already had the new line; the "backport" puts the old one back
    bp_pre = up_post
    result = scenario(tmp_path, {F: pre}, {F: up_post}, {F: bp_pre}, {F: pre})
    assert rules(result) == ["P005"]
    assert fires(result.findings, "P005")[0].data["reversed"] is True
    assert "reverses" in result.findings[0].message


def test_partial_hunk_is_p005_and_full_is_clean(tmp_path: Path) -> None:
    pre = kvm_file()
    two = "\t\tif (!argp)\n\t\t\treturn -EFAULT;\n\t\tr = handle_hv_cpuid(argp);\n"
    up_post = pre.replace("\t\tr = handle_hv_cpuid(argp);\n", two, 1)
    bp_post = pre.replace("\t\tr = handle_hv_cpuid(argp);\n", "\t\tif (!argp)\n\t\tr = handle_hv_cpuid(argp);\n", 1)
    result = scenario(tmp_path, {F: pre}, {F: up_post}, {F: pre}, {F: bp_post})
    assert rules(result) == ["P005"]
    assert "partially applied" in result.findings[0].message
    ok = scenario(tmp_path / "ok", {F: pre}, {F: up_post}, {F: pre}, {F: up_post})
    assert ok.findings == []
    clean(ok.findings, "P005")


def test_hunk_moved_within_the_same_function_is_not_an_error(tmp_path: Path) -> None:
    pre = kvm_file()
    line = "\tpr_debug(\"dev ioctl %u\\n\", ioctl);\n"
    up_post = pre.replace("\tlong r;\n\n\tswitch", "\tlong r;\n" + line + "\n\tswitch", 1)
    bp_post = pre.replace("\t\tr = -EINVAL;\n\t\tbreak;\n\t}\n\treturn r;", "\t\tr = -EINVAL;\n\t\tbreak;\n\t}\n"
                          + line + "\treturn r;", 1)
    result = scenario(tmp_path, {F: pre}, {F: up_post}, {F: pre}, {F: bp_post})
    assert rules(result) == []
    assert any("moved within the same function" in n for p in result.pairs for n in p.notes)


def test_renamed_function_matched_by_body_similarity(tmp_path: Path) -> None:
    body = "".join(f"\tstep_{i}(vcpu);\n" for i in range(12))
    up_pre = f"static void vcpu_reset_state(struct kvm_vcpu *vcpu)\n{{\n{body}}}\n"
    bp_pre = f"static void kvm_vcpu_reset_regs(struct kvm_vcpu *vcpu)\n{{\n{body}}}\n"
    fix = "\tclear_pending_events(vcpu);\n"
    up_post = up_pre.replace("\tstep_6(vcpu);\n", "\tstep_6(vcpu);\n" + fix)
    bp_post = bp_pre.replace("\tstep_6(vcpu);\n", "\tstep_6(vcpu);\n" + fix)
    result = scenario(tmp_path, {"v.c": up_pre}, {"v.c": up_post}, {"v.c": bp_pre}, {"v.c": bp_post})
    assert rules(result) == []
    notes = [n for p in result.pairs for n in p.notes]
    assert any("renamed" in n and "vcpu_reset_state()" in n and "kvm_vcpu_reset_regs()" in n for n in notes)


def test_rename_is_not_assumed_when_the_upstream_function_exists_in_the_backport(tmp_path: Path) -> None:
    """Similar bodies are not enough: if the backport tree has the upstream function, the hunk belongs there."""
    body = "".join(f"\tstep_{i}(vcpu);\n" for i in range(12))
    pre = (f"static void reset_a(struct kvm_vcpu *vcpu)\n{{\n{body}}}\n\n"
           f"static void reset_b(struct kvm_vcpu *vcpu)\n{{\n{body}}}\n")
    fix = "\tclear_pending_events(vcpu);\n"
    result = scenario(tmp_path, {"v.c": pre}, {"v.c": insert_after_nth(pre, "\tstep_6(vcpu);\n", fix, 0)},
                      {"v.c": pre}, {"v.c": insert_after_nth(pre, "\tstep_6(vcpu);\n", fix, 1)})
    assert rules(result) == ["P001"]


def test_multiple_hunks_per_function_and_a_new_function(tmp_path: Path) -> None:
    pre = kvm_file()
    helper = "static long kvm_x86_dev_get_attr(void __user *argp)\n{\n\treturn get_attr(argp);\n}\n\n"
    up_post = insert_after_nth(helper + pre, ANCHOR, NEW_CASE, 0)
    up_post = up_post.replace("\tlong r;\n", "\tlong r = -EINVAL;\n", 1)
    result = scenario(tmp_path, {F: pre}, {F: up_post}, {F: pre}, {F: up_post})
    assert rules(result) == []
    functions = sorted(p.upstream.context.function_name or "" for p in result.pairs)
    assert functions == ["kvm_arch_dev_ioctl", "kvm_arch_dev_ioctl", "kvm_x86_dev_get_attr"]


def test_switch_context_differs_inside_the_same_function_is_p002(tmp_path: Path) -> None:
    """Same function name, different switch: P002 alone."""
    fn = ("long dispatch(unsigned int cmd, unsigned int sub)\n{\n\tlong r = 0;\n\n"
          "\tswitch (cmd) {\n\tcase CMD_A:\n\t\tr = a();\n\t\tbreak;\n\tcase CMD_B:\n\t\tr = b();\n\t\tbreak;\n"
          "\tcase CMD_COMMON:\n\t\tr = common();\n\t\tbreak;\n\t}\n"
          "\tswitch (sub) {\n\tcase SUB_X:\n\t\tr = x();\n\t\tbreak;\n\tcase SUB_Y:\n\t\tr = y();\n\t\tbreak;\n"
          "\tcase CMD_COMMON:\n\t\tr = common();\n\t\tbreak;\n\t}\n\treturn r;\n}\n")
    add = "\tcase CMD_NEW:\n\t\tr = new_cmd();\n\t\tbreak;\n"
    anchor = "\t\tr = common();\n\t\tbreak;\n"
    result = scenario(tmp_path, {"d.c": fn}, {"d.c": insert_after_nth(fn, anchor, add, 0)},
                      {"d.c": fn}, {"d.c": insert_after_nth(fn, anchor, add, 1)})
    assert rules(result) == ["P002"]
    fires(result.findings, "P002")
    assert "switch (cmd)" in result.findings[0].message and "switch (sub)" in result.findings[0].message


def test_renamed_file_pairs_across_paths(tmp_path: Path) -> None:
    pre = kvm_file()
    post = insert_after_nth(pre, ANCHOR, NEW_CASE, 0)
    result = scenario(tmp_path, {"virt/kvm/x86.c": pre}, {"virt/kvm/x86.c": post},
                      {"arch/x86/kvm/x86.c": pre}, {"arch/x86/kvm/x86.c": post})
    assert rules(result) == []
    assert any("file differs" in n for p in result.pairs for n in p.notes)


def test_fallback_prefers_a_signature_inside_the_hunk_over_the_header(tmp_path: Path) -> None:
    """git names the previous function in the @@ header for a change at the top of the next one;
    the signature line in the hunk's context is the better witness."""
    from hvcheck.backport.context import Side
    from hvcheck.backport.pairing import Unit
    from hvcheck.backport.patchfile import read_patch

    text = ("--- a/f.c\n+++ b/f.c\n@@ -10,6 +10,7 @@ static int previous_fn(void)\n }\n \n"
            " static int next_fn(int x)\n {\n+\tsanitize(x);\n \treturn x;\n }\n")
    patch = read_patch("h.patch", text)
    (block,) = patch.blocks()
    where = Side("upstream", patch).where(Unit([block]))
    assert where.context.function_name == "next_fn"
    assert not where.from_tree


def test_dropped_hunk_says_when_its_lines_are_already_in_the_backport_tree(tmp_path: Path) -> None:
    pre = kvm_file()
    up_post = insert_after_nth(pre, ANCHOR, NEW_CASE, 0).replace("\tlong r;\n", "\tlong r = 0;\n", 1)
    bp_pre = insert_after_nth(pre, ANCHOR, NEW_CASE, 0)  # the case was backported earlier
    bp_post = bp_pre.replace("\tlong r;\n", "\tlong r = 0;\n", 1)
    result = scenario(tmp_path, {F: pre}, {F: up_post}, {F: bp_pre}, {F: bp_post})
    assert rules(result) == ["P003"]
    assert "already in the backport tree" in fires(result.findings, "P003")[0].message
    assert "kvm_arch_dev_ioctl()" in result.findings[0].message


def test_tree_that_matches_neither_image_falls_back_and_says_why(tmp_path: Path) -> None:
    pre = kvm_file()
    up = insert_after_nth(pre, ANCHOR, NEW_CASE, 0)
    bp = insert_after_nth(pre, ANCHOR, NEW_CASE, 1)
    from bp_helpers import make_patch, write

    from hvcheck.backport.cli import run_backport

    up_p = make_patch(tmp_path, "up", {F: pre}, {F: up})
    bp_p = make_patch(tmp_path, "bp", {F: pre}, {F: bp})
    write(tmp_path / "other" / F, "int unrelated(void)\n{\n\treturn 0;\n}\n")
    result = run_backport(str(up_p), str(bp_p), upstream_tree=str(tmp_path / "up.a"),
                          backport_tree=str(tmp_path / "other"))
    p001 = fires(result.findings, "P001")[0]
    assert p001.data["confidence"] == "low"
    assert "matches neither side" in p001.data["backport"]["basis"]
    assert p001.data["upstream"]["basis"].startswith("tree-sitter-c")


def test_split_hunk_pairs_but_a_piece_in_the_next_function_is_still_p001(tmp_path: Path) -> None:
    """Upstream adds three lines at the end of f(); the backport adds two there and the third at
    the top of g(), a few lines below. Pairing may join the backport's two blocks; the piece in
    g() must still be reported."""
    pre = ("int f(int x)\n{\n\tint r = x;\n\n\tr += 1;\n\treturn r;\n}\n\n"
           "int g(int y)\n{\n\tint r = y;\n\n\tr += 2;\n\treturn r;\n}\n")
    add = "\tcheck_a(r);\n\tcheck_b(r);\n\tcheck_c(r);\n"
    up_post = pre.replace("\tr += 1;\n", "\tr += 1;\n" + add)
    bp_post = pre.replace("\tr += 1;\n", "\tr += 1;\n\tcheck_a(r);\n\tcheck_b(r);\n").replace(
        "\tr += 2;\n", "\tr += 2;\n\tcheck_c(r);\n")
    result = scenario(tmp_path, {"s.c": pre}, {"s.c": up_post}, {"s.c": pre}, {"s.c": bp_post})
    p001 = fires(result.findings, "P001")[0]
    assert "f()" in p001.message and "g()" in p001.message
    assert "part of it (`check_c(r);`)" in p001.message and "identical" not in p001.message


def test_series_in_one_mbox_chains_images(tmp_path: Path) -> None:
    """Two commits touching the same file in one patch file: the second is resolved on the first's
    post-image, so its misplacement is still found with full confidence."""
    from bp_helpers import make_patch, write

    from hvcheck.backport.cli import run_backport

    pre = kvm_file()
    mid = pre.replace("\tlong r;\n", "\tlong r = 0;\n", 1)
    up_end = insert_after_nth(mid, ANCHOR, NEW_CASE, 0)
    bp_end = insert_after_nth(mid, ANCHOR, NEW_CASE, 1)
    one = make_patch(tmp_path, "one", {F: pre}, {F: mid}).read_text()
    up2 = make_patch(tmp_path, "up2", {F: mid}, {F: up_end}).read_text()
    bp2 = make_patch(tmp_path, "bp2", {F: mid}, {F: bp_end}).read_text()
    write(tmp_path / "tree" / F, pre)
    up = write(tmp_path / "up-series.patch", one + up2)
    bp = write(tmp_path / "bp-series.patch", one + bp2)
    result = run_backport(str(up), str(bp), upstream_tree=str(tmp_path / "tree"), backport_tree=str(tmp_path / "tree"))
    assert sorted(f.rule for f in result.findings) == ["P001", "P002"]
    p001 = fires(result.findings, "P001")[0]
    assert p001.data["confidence"] == "high"
    assert "previous patch in the series" in p001.data["backport"]["basis"]
