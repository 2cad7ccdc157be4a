"""P001-P007 on small C files we write here: each rule with a failing case (`fires`) and a passing
case (`clean`), on trees and on patches alone."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bp_helpers import ANCHOR, NEW_CASE, insert_after_nth, kvm_file, make_patch, rules, scenario, write
from hypothesis import given, settings
from hypothesis import strategies as st
from rulecheck import clean, fires

from hvcheck.backport.cli import run_backport

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
    assert any("moved within the same definition" in n for p in result.pairs for n in p.notes)


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
    functions = sorted(p.upstream.scope.function_name or "" for p in result.pairs if p.upstream and p.upstream.scope)
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
    from hvcheck.backport.pairing import Unit
    from hvcheck.backport.placement import Side
    from hvcheck.backport.readers.patchfile import read_patch

    text = ("--- a/f.c\n+++ b/f.c\n@@ -10,6 +10,7 @@ static int previous_fn(void)\n }\n \n"
            " static int next_fn(int x)\n {\n+\tsanitize(x);\n \treturn x;\n }\n")
    patch = read_patch("h.patch", text)
    (block,) = patch.blocks()
    where = Side("upstream", patch).where(Unit([block]))
    assert where.scope is not None and where.scope.function_name == "next_fn"
    assert where.evidence == "hunk" and not where.from_tree
    # the header's guess is kept apart, as the weaker evidence it is
    assert where.header_scope is not None and where.header_scope.function_name == "previous_fn"


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
    up_p = make_patch(tmp_path, "up", {F: pre}, {F: up})
    bp_p = make_patch(tmp_path, "bp", {F: pre}, {F: bp})
    write(tmp_path / "other" / F, "int unrelated(void)\n{\n\treturn 0;\n}\n")
    result = run_backport(str(up_p), str(bp_p), upstream_tree=str(tmp_path / "up.a"),
                          backport_tree=str(tmp_path / "other"))
    p001 = fires(result.findings, "P001")[0]
    assert p001.data["confidence"] == "low"  # compared on the two @@ headers, never tree vs header
    assert p001.data["compared_at"] == "header"
    assert "matches neither side" in p001.data["backport"]["basis"]
    assert p001.data["upstream"]["basis"].startswith("tree-sitter-c")
    # and the user hears it loudly: the tree was given and is useless for this file
    e001 = fires(result.findings, "E001")[0]
    assert e001.severity.label == "error" and "backport tree given" in e001.message


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


MACRO_SOURCE = """\
SYSCALL_DEFINE3(kvm_mini_call, int, cmd, unsigned long, arg, int, flags)
{
	switch (cmd) {
	case MINI_A:
		return do_a(arg);
	default:
		return -EINVAL;
	}
}

int kr_style(a, b)
int a;
char *b;
{
	return a + *b;
}
"""


def test_misplacement_between_macro_defined_and_kr_functions(tmp_path: Path) -> None:
    fix = "\tsanitize(arg);\n"
    up_post = MACRO_SOURCE.replace("\tswitch (cmd) {\n", fix + "\tswitch (cmd) {\n")
    bp_post = MACRO_SOURCE.replace("\treturn a + *b;\n", fix + "\treturn a + *b;\n")
    result = scenario(tmp_path, {"m.c": MACRO_SOURCE}, {"m.c": up_post}, {"m.c": MACRO_SOURCE}, {"m.c": bp_post})
    assert rules(result) == ["P001"]
    msg = fires(result.findings, "P001")[0].message
    assert "SYSCALL_DEFINE3(kvm_mini_call)" in msg and "kr_style()" in msg
    ok = scenario(tmp_path / "ok", {"m.c": MACRO_SOURCE}, {"m.c": up_post}, {"m.c": MACRO_SOURCE}, {"m.c": up_post})
    assert ok.findings == []
    clean(ok.findings, "P001")


@settings(max_examples=20, deadline=None)
@given(n=st.integers(min_value=2, max_value=5), data=st.data())
def test_property_placement_decides_p001(n: int, data: st.DataObject) -> None:
    """n functions with an identical tail; upstream edits function i, the backport function j:
    P001 exactly when i != j, and the message names both."""

    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    j = data.draw(st.integers(min_value=0, max_value=n - 1))
    fns = [f"static int handler_{k}(int x)\n{{\n\tint ret = prep_{k}(x);\n\n\tif (ret)\n\t\tgoto out;\n"
           f"\tret = work(x);\nout:\n\tunlock();\n\treturn ret;\n}}\n" for k in range(n)]
    pre = "\n".join(fns)
    anchor = "out:\n"

    def place(k: int) -> str:
        return insert_after_nth(pre, anchor, "\tif (ret)\n\t\trollback(x);\n", k)

    with tempfile.TemporaryDirectory() as tmp:
        result = scenario(Path(tmp), {"h.c": pre}, {"h.c": place(i)}, {"h.c": pre}, {"h.c": place(j)})
    got = rules(result)
    if i == j:
        assert got == []
    else:
        assert got == ["P001"]
        assert f"handler_{i}()" in result.findings[0].message and f"handler_{j}()" in result.findings[0].message


# --- scopes beyond functions ----------------------------------------------------------------------

def _ops(name: str, extra: str = "") -> str:
    return (f"static const struct stmmac_ops {name} = {{\n\t.core_init = core_init,\n\t.set_mac = set_mac,\n"
            f"{extra}\t.dump_regs = dump_regs,\n}};\n\n")


LOOPBACK = "\t.set_mac_loopback = dwmac4_set_mac_loopback,\n"


def test_member_added_to_the_wrong_ops_table_is_p001(tmp_path: Path) -> None:
    """Two named initializers with the same members: a change inside one of them is placed in it."""
    pre = _ops("dwmac4_ops") + _ops("dwmac410_ops")
    up = _ops("dwmac4_ops", LOOPBACK) + _ops("dwmac410_ops")
    bp = _ops("dwmac4_ops") + _ops("dwmac410_ops", LOOPBACK)
    for trees in (True, False):
        result = scenario(tmp_path / str(trees), {"dw.c": pre}, {"dw.c": up}, {"dw.c": pre}, {"dw.c": bp}, trees)
        p001 = fires(result.findings, "P001")[0]
        assert "the initializer of `dwmac4_ops`" in p001.message
        assert "the initializer of `dwmac410_ops`" in p001.message
        assert p001.data["confidence"] == ("high" if trees else "medium")  # hunk text shows the initializer head
    ok = scenario(tmp_path / "ok", {"dw.c": pre}, {"dw.c": up}, {"dw.c": pre}, {"dw.c": up})
    clean(ok.findings, "P001")


def _nested(slot_a: str = "", slot_b: str = "") -> str:
    return ("static struct platform_driver foo_driver = {\n\t.driver = {\n\t\t.name = \"foo\",\n" + slot_a
            + "\t\t.owner = THIS_MODULE,\n\t},\n\t.id_table = {\n\t\t.name = \"foo\",\n" + slot_b
            + "\t\t.owner = THIS_MODULE,\n\t},\n\t.probe = foo_probe,\n};\n")


def test_same_initializer_other_member_is_p002(tmp_path: Path) -> None:
    line = "\t\t.pm = &foo_pm_ops,\n"
    pre = _nested()
    result = scenario(tmp_path, {"f.c": pre}, {"f.c": _nested(slot_a=line)}, {"f.c": pre}, {"f.c": _nested(slot_b=line)})
    p002 = fires(result.findings, "P002")[0]
    clean(result.findings, "P001")
    assert p002.data["switch_difference"] == {"upstream_member": ".driver", "backport_member": ".id_table"}
    ok = scenario(tmp_path / "ok", {"f.c": pre}, {"f.c": _nested(slot_a=line)}, {"f.c": pre}, {"f.c": _nested(slot_a=line)})
    clean(ok.findings, "P002")


def test_goto_label_in_the_header_is_not_a_function(tmp_path: Path) -> None:
    """git names the nearest line starting with a letter: after `out_success:` that is the label.
    A correct backport must not get a P001 from comparing it with a real function name."""
    up_pre = ("static int do_probe(struct dev *d)\n{\n\tint ret = setup(d);\n\n\tif (ret)\n\t\tgoto out;\n"
              "\tstart(d);\nout_success:\n\tlog_ok(d);\n\tcount++;\n\tmore(d);\n\tstill_more(d);\n\treturn ret;\n"
              "out:\n\treturn ret;\n}\n")
    # the backport tree lacks the label: git names the function there
    bp_pre = up_pre.replace("out_success:\n", "")
    fix = "\tcheck(d);\n"
    up_post = up_pre.replace("\tstill_more(d);\n", "\tstill_more(d);\n" + fix)
    bp_post = bp_pre.replace("\tstill_more(d);\n", "\tstill_more(d);\n" + fix)
    result = scenario(tmp_path, {"p.c": up_pre}, {"p.c": up_post}, {"p.c": bp_pre}, {"p.c": bp_post}, trees=False)
    up_section = (tmp_path / "up.patch").read_text().split("@@")[2]
    assert "out_success:" in up_section  # the shape this test is about
    clean(result.findings, "P001")
    # a real misplacement with a label header on one side is still found once trees are given
    wrong = bp_pre.replace("\treturn ret;\nout:", fix + "\treturn ret;\nout:")
    other = ("static int other(struct dev *d)\n{\n\tstill_more(d);\n\treturn 0;\n}\n")
    bad = scenario(tmp_path / "bad", {"p.c": up_pre}, {"p.c": up_post}, {"p.c": other + bp_pre},
                   {"p.c": (other + bp_pre).replace("\tstill_more(d);\n\treturn 0;", "\tstill_more(d);\n" + fix +
                                                    "\treturn 0;")})
    p001 = fires(bad.findings, "P001")[0]
    assert "do_probe()" in p001.message and "other()" in p001.message
    assert wrong  # (kept for readability of the shape)


def test_change_in_a_macro_body_is_placed_in_that_macro(tmp_path: Path) -> None:
    pre = ("#define SAVE_REGS(r) \\\n\tdo { \\\n\t\tsave(r); \\\n\t} while (0)\n\n"
           "#define LOAD_REGS(r) \\\n\tdo { \\\n\t\tsave(r); \\\n\t} while (0)\n")
    fix = "\t\tfence(); \\\n"
    up = insert_after_nth(pre, "\t\tsave(r); \\\n", fix, 0)
    bp = insert_after_nth(pre, "\t\tsave(r); \\\n", fix, 1)
    result = scenario(tmp_path, {"m.h": pre}, {"m.h": up}, {"m.h": pre}, {"m.h": bp})
    p001 = fires(result.findings, "P001")[0]
    assert "macro SAVE_REGS" in p001.message and "macro LOAD_REGS" in p001.message
    clean(scenario(tmp_path / "ok", {"m.h": pre}, {"m.h": up}, {"m.h": pre}, {"m.h": up}).findings, "P001")


def test_upstream_function_absent_from_the_backport_tree_is_only_a_warning(tmp_path: Path) -> None:
    """The older tree does not have upstream's function: the change had to go elsewhere, a person
    must judge where. Still reported, not as an error."""
    up_pre = "static void new_helper(int x)\n{\n\tprep(x);\n\trun(x);\n}\n"
    bp_pre = "static void old_place(int x)\n{\n\tprep(x);\n\trun(x);\n}\n\nstatic void unrelated(void)\n{\n}\n"
    fix = "\tvalidate(x);\n"
    result = scenario(tmp_path, {"h.c": up_pre}, {"h.c": up_pre.replace("\trun(x);", fix + "\trun(x);")},
                      {"h.c": bp_pre}, {"h.c": bp_pre.replace("\tprep(x);\n\trun(x);", "\tprep(x);\n" + fix + "\trun(x);")})
    # bodies are identical: the rename check treats it as the same function, no finding at all
    clean(result.findings, "P001")
    bp_pre2 = ("static void old_place(int y)\n{\n\tlock(y);\n\tother(y);\n\tprep(x);\n\trun(x);\n\tmore(y);\n"
               "\tdone(y);\n\tunlock(y);\n\treport(y);\n}\n")
    result2 = scenario(tmp_path / "w", {"h.c": up_pre}, {"h.c": up_pre.replace("\trun(x);", fix + "\trun(x);")},
                       {"h.c": bp_pre2}, {"h.c": bp_pre2.replace("\trun(x);", fix + "\trun(x);")})
    p001 = fires(result2.findings, "P001")[0]
    assert p001.severity.label == "warning" and "does not exist in the backport tree" in p001.message


# --- #if / #ifdef -------------------------------------------------------------------------------------

IFDEF = ("static void setup(int arg)\n{\n\tcommon(arg);\n#ifdef CONFIG_COMPAT\n\tcompat_a(arg);\n\tcompat_b(arg);\n"
         "#else\n\tnative_a(arg);\n\tnative_b(arg);\n#endif\n\tfinish(arg);\n}\n")


def test_change_under_another_ifdef_branch_is_p007(tmp_path: Path) -> None:
    fix = "\tfixup(arg);\n"
    up = IFDEF.replace("\tcompat_b(arg);\n", "\tcompat_b(arg);\n" + fix)
    bp = IFDEF.replace("\tnative_b(arg);\n", "\tnative_b(arg);\n" + fix)
    result = scenario(tmp_path, {"s.c": IFDEF}, {"s.c": up}, {"s.c": IFDEF}, {"s.c": bp})
    p007 = fires(result.findings, "P007")[0]
    clean(result.findings, "P001")
    assert p007.data["upstream_conditions"] == ["CONFIG_COMPAT"]
    assert p007.data["backport_conditions"] == ["!(CONFIG_COMPAT)"]
    ok = scenario(tmp_path / "ok", {"s.c": IFDEF}, {"s.c": up}, {"s.c": IFDEF}, {"s.c": up})
    clean(ok.findings, "P007")


# --- moved and rewritten --------------------------------------------------------------------------

ACPI = ("static int __init acpi_parse_mcfg(unsigned long phys, unsigned long size)\n{\n\tstruct acpi_table_mcfg *mcfg;\n"
        "\tunsigned long i;\n\n\tif (!phys || !size)\n\t\treturn -EINVAL;\n\n\tmcfg = __acpi_map_table(phys, size);\n"
        "\treturn parse(mcfg);\n}\n\n"
        "int __init acpi_boot_table_init(void)\n{\n\tint error;\n\n\tif (acpi_disabled && !acpi_ht)\n\t\treturn 1;\n\n"
        "\terror = acpi_table_init();\n\treturn error;\n}\n")


def test_moved_and_rewritten_hunk_is_one_p006_error(tmp_path: Path) -> None:
    """The 2006 i386 ACPI mismerge shape: upstream adds a check in acpi_boot_table_init(); the
    merge put a rewritten check into acpi_parse_mcfg(). Before: P003 + P004 warnings, exit 0."""
    up = ACPI.replace("\tif (acpi_disabled && !acpi_ht)\n", "\tif (!cpu_has_apic)\n\t\treturn -ENODEV;\n\n"
                      "\tif (acpi_disabled && !acpi_ht)\n")
    bp = ACPI.replace("\tmcfg = __acpi_map_table", "\tif (!cpu_has_apic && !lapic_forced)\n\t\tgoto no_lapic;\n\n"
                      "\tmcfg = __acpi_map_table")
    for trees in (True, False):
        result = scenario(tmp_path / str(trees), {"boot.c": ACPI}, {"boot.c": up}, {"boot.c": ACPI}, {"boot.c": bp}, trees)
        p006 = fires(result.findings, "P006")[0]
        for rule in ("P003", "P004", "P001"):
            clean(result.findings, rule)
        assert p006.severity.label == "error"
        assert "acpi_boot_table_init()" in p006.message and "acpi_parse_mcfg()" in p006.message
        assert "cpu_has_apic" in p006.message
        assert "-+\tif (!cpu_has_apic)" in p006.data["diff"] and "++\tif (!cpu_has_apic && !lapic_forced)" in \
            p006.data["diff"]
    ok = scenario(tmp_path / "ok", {"boot.c": ACPI}, {"boot.c": up}, {"boot.c": ACPI}, {"boot.c": up})
    clean(ok.findings, "P006")


def test_rewritten_in_place_is_p005_not_p006(tmp_path: Path) -> None:
    up = ACPI.replace("\tif (acpi_disabled && !acpi_ht)\n", "\tif (!cpu_has_apic)\n\t\treturn -ENODEV;\n\n"
                      "\tif (acpi_disabled && !acpi_ht)\n")
    bp = ACPI.replace("\tif (acpi_disabled && !acpi_ht)\n", "\tif (!cpu_has_apic && !lapic_forced)\n"
                      "\t\tgoto no_lapic;\n\n\tif (acpi_disabled && !acpi_ht)\n")
    result = scenario(tmp_path, {"boot.c": ACPI}, {"boot.c": up}, {"boot.c": ACPI}, {"boot.c": bp})
    assert rules(result) == ["P005"]
    clean(result.findings, "P006")


def test_changed_define_value_is_p005_not_missing_plus_extra(tmp_path: Path) -> None:
    pre = "#define A_FLAG (1 << 3)\n\nstatic int x;\n"
    result = scenario(tmp_path, {"d.h": pre}, {"d.h": pre + "#define B_FLAG (1 << 4)\n"}, {"d.h": pre},
                      {"d.h": pre + "#define B_FLAG (1 << 5)\n"})
    assert rules(result) == ["P005"]
    p005 = result.findings[0]
    assert "`#define B_FLAG`: upstream `(1 << 4)`, backport `(1 << 5)`" in p005.message
    same = scenario(tmp_path / "ok", {"d.h": pre}, {"d.h": pre + "#define B_FLAG (1 << 4)\n"}, {"d.h": pre},
                    {"d.h": pre + "#define B_FLAG (1 << 4)\n"})
    clean(same.findings, "P005")
