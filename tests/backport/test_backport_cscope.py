"""Enclosing function / switch / case resolution on kernel-style C that trips parsers."""

from __future__ import annotations

from pathlib import Path

from bp_helpers import rules, scenario
from hypothesis import given, settings
from hypothesis import strategies as st
from rulecheck import clean, fires

from hvcheck.backport.cscope import blank_alternative_branches, index_source

SOURCE = """\
#include <linux/kvm_host.h>

static int __init kvm_mini_init(void)
{
	return register_all();
}
module_init(kvm_mini_init);

SYSCALL_DEFINE3(kvm_mini_call, int, cmd, unsigned long, arg, int, flags)
{
	switch (cmd) {
	case MINI_A:
		return do_a(arg);
	default:
		return -EINVAL;
	}
}

static __always_inline long
multi_line_signature(struct kvm *kvm,
                     unsigned long arg,
                     int flags)
{
#ifdef CONFIG_KVM_MINI_COMPAT
	if (flags & COMPAT) {
#else
	if (flags) {
#endif
		switch (arg) {
		case ARG_ONE: {
			one(kvm);
			break;
		}
		default:
			break;
		}
	}
	return 0;
}
EXPORT_SYMBOL_GPL(multi_line_signature);

int kr_style(a, b)
int a;
char *b;
{
	return a + *b;
}

#if defined(CONFIG_X86_64)
static void only_on_64(void)
{
	barrier();
}
#elif defined(CONFIG_X86_32)
static void only_on_32(void)
{
	barrier();
}
#endif

static int (*pick_handler(int kind))(int)
{
	return handlers[kind];
}
"""


def _line(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), start=1) if needle in ln)


def test_functions_behind_macros_kr_and_multiline_signatures() -> None:
    idx = index_source(SOURCE)
    names = [f.name for f in idx.functions]
    assert names[:4] == ["kvm_mini_init", "SYSCALL_DEFINE3(kvm_mini_call)", "multi_line_signature", "kr_style"]
    assert "only_on_64" in names and "pick_handler" in names
    assert idx.context_at(_line(SOURCE, "register_all")).function_name == "kvm_mini_init"
    assert idx.context_at(_line(SOURCE, "return a + *b")).function_name == "kr_style"
    assert idx.context_at(_line(SOURCE, "handlers[kind]")).function_name == "pick_handler"
    assert idx.context_at(_line(SOURCE, "module_init")).function is None
    assert idx.context_at(_line(SOURCE, "EXPORT_SYMBOL_GPL")).function is None


def test_switch_and_case_inside_preprocessor_split_braces() -> None:
    idx = index_source(SOURCE)
    ctx = idx.context_at(_line(SOURCE, "one(kvm);"))
    assert ctx.function_name == "multi_line_signature"
    assert ctx.switch is not None and ctx.switch.condition == "arg"
    assert ctx.case == "case ARG_ONE"
    assert ctx.switch.cases == {"case ARG_ONE", "default"}
    macro = idx.context_at(_line(SOURCE, "return do_a(arg)"))
    assert macro.function_name == "SYSCALL_DEFINE3(kvm_mini_call)"
    assert macro.switch is not None and macro.switch.condition == "cmd" and macro.case == "case MINI_A"


def test_lines_in_an_else_branch_still_belong_to_their_function() -> None:
    idx = index_source(SOURCE)
    assert idx.context_at(_line(SOURCE, "if (flags) {")).function_name == "multi_line_signature"
    # the #elif branch is blanked for parsing, but its lines are inside no parsed function
    assert idx.context_at(_line(SOURCE, "static void only_on_32")).function_name != "only_on_64"


def test_blanking_keeps_line_numbers() -> None:
    lines = SOURCE.split("\n")
    out = blank_alternative_branches(lines)
    assert len(out) == len(lines)
    assert out[_line(SOURCE, "if (flags) {") - 1] == ""
    assert out[_line(SOURCE, "if (flags & COMPAT)") - 1].strip() == "if (flags & COMPAT) {"


def test_misplacement_between_macro_defined_and_kr_functions(tmp_path: Path) -> None:
    fix = "\tsanitize(arg);\n"
    up_post = SOURCE.replace("\tswitch (cmd) {\n", fix + "\tswitch (cmd) {\n")
    bp_post = SOURCE.replace("\treturn a + *b;\n", fix + "\treturn a + *b;\n")
    result = scenario(tmp_path, {"m.c": SOURCE}, {"m.c": up_post}, {"m.c": SOURCE}, {"m.c": bp_post})
    assert rules(result) == ["P001"]
    msg = fires(result.findings, "P001")[0].message
    assert "SYSCALL_DEFINE3(kvm_mini_call)" in msg and "kr_style()" in msg
    ok = scenario(tmp_path / "ok", {"m.c": SOURCE}, {"m.c": up_post}, {"m.c": SOURCE}, {"m.c": up_post})
    assert ok.findings == []
    clean(ok.findings, "P001")


@settings(max_examples=20, deadline=None)
@given(n=st.integers(min_value=2, max_value=5), data=st.data())
def test_property_placement_decides_p001(n: int, data: st.DataObject) -> None:
    """n functions with an identical tail; upstream edits function i, the backport function j:
    P001 exactly when i != j, and the message names both."""
    import tempfile

    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    j = data.draw(st.integers(min_value=0, max_value=n - 1))
    fns = [f"static int handler_{k}(int x)\n{{\n\tint ret = prep_{k}(x);\n\n\tif (ret)\n\t\tgoto out;\n"
           f"\tret = work(x);\nout:\n\tunlock();\n\treturn ret;\n}}\n" for k in range(n)]
    pre = "\n".join(fns)
    anchor = "out:\n"

    def place(k: int) -> str:
        from bp_helpers import insert_after_nth

        return insert_after_nth(pre, anchor, "\tif (ret)\n\t\trollback(x);\n", k)

    with tempfile.TemporaryDirectory() as tmp:
        result = scenario(Path(tmp), {"h.c": pre}, {"h.c": place(i)}, {"h.c": pre}, {"h.c": place(j)})
    got = rules(result)
    if i == j:
        assert got == []
    else:
        assert got == ["P001"]
        assert f"handler_{i}()" in result.findings[0].message and f"handler_{j}()" in result.findings[0].message
