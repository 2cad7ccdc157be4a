"""Enclosing function / switch / case resolution on kernel-style C that trips parsers."""

from __future__ import annotations

from hvcheck.backport.model import ScopePart
from hvcheck.backport.readers.cscope import blank_alternative_branches, index_source

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
    assert idx.scope_at(_line(SOURCE, "register_all")).function_name == "kvm_mini_init"
    assert idx.scope_at(_line(SOURCE, "return a + *b")).function_name == "kr_style"
    assert idx.scope_at(_line(SOURCE, "handlers[kind]")).function_name == "pick_handler"
    # at file scope: the nearest named declaration above is the anchor
    assert idx.scope_at(_line(SOURCE, "module_init")).container == ScopePart("file", "kvm_mini_init", 3)
    assert idx.scope_at(_line(SOURCE, "EXPORT_SYMBOL_GPL")).function_name is None


def test_switch_and_case_inside_preprocessor_split_braces() -> None:
    idx = index_source(SOURCE)
    scope = idx.scope_at(_line(SOURCE, "one(kvm);"))
    assert scope.function_name == "multi_line_signature"
    switch, case = scope.innermost("switch"), scope.innermost("case")
    assert switch is not None and switch.name == "arg"
    assert case is not None and case.name == "case ARG_ONE"
    assert scope.cases == {"case ARG_ONE", "default"}
    macro = idx.scope_at(_line(SOURCE, "return do_a(arg)"))
    assert macro.function_name == "SYSCALL_DEFINE3(kvm_mini_call)"
    assert [(p.kind, p.name) for p in macro.parts[1:]] == [("switch", "cmd"), ("case", "case MINI_A")]


def test_lines_in_an_else_branch_still_belong_to_their_function() -> None:
    idx = index_source(SOURCE)
    scope = idx.scope_at(_line(SOURCE, "if (flags) {"))
    assert scope.function_name == "multi_line_signature"
    assert scope.conditions == ("!(CONFIG_KVM_MINI_COMPAT)",)
    # a function that exists only in an #elif branch is found by the second (last-branch) parse
    later = idx.scope_at(_line(SOURCE, "static void only_on_32") + 2)
    assert later.function_name == "only_on_32"
    assert later.conditions == ("defined(CONFIG_X86_32)",)


def test_blanking_keeps_line_numbers() -> None:
    lines = SOURCE.split("\n")
    out = blank_alternative_branches(lines)
    assert len(out) == len(lines)
    assert out[_line(SOURCE, "if (flags) {") - 1] == ""
    assert out[_line(SOURCE, "if (flags & COMPAT)") - 1].strip() == "if (flags & COMPAT) {"


ATTRIBUTED = """\
static int plain;
bool __read_mostly opt_fast;
static int __initdata boot_level = 1;
static int late_flag __read_mostly;
static struct kvm_ops __initdata boot_ops = {
	.hardware_setup = setup,
};
static const char * const cpu_names[] __initconst = {
	"a",
};
static struct kvm_ops vmx_ops __initdata = {
	.hardware_setup = vmx_setup,
};
static int __boot_param;

static long handler(int cmd)
{
	int __maybe_unused ret = 0;
	bool __read_mostly a, b;
	foo_t x;

	return ret;
}
"""


def test_a_file_scope_declaration_with_an_attribute_macro_is_named_by_its_variable() -> None:
    """Tree-sitter takes `__read_mostly` / `__initdata` for the declared name (the real name lands
    in an ERROR node): the anchor must be the variable, as for an unattributed declaration."""
    idx = index_source(ATTRIBUTED)

    def container(needle: str, offset: int = 0) -> ScopePart:
        return idx.scope_at(_line(ATTRIBUTED, needle) + offset).container

    assert container("opt_fast") == ScopePart("file", "opt_fast", 2)
    assert container("boot_level") == ScopePart("file", "boot_level", 3)
    assert container("late_flag") == ScopePart("file", "late_flag", 4)
    assert container("boot_ops", 1) == ScopePart("initializer", "boot_ops", 5)
    assert container("cpu_names", 1) == ScopePart("initializer", "cpu_names", 8)
    # tree-sitter already names these right: unchanged
    assert container("vmx_ops", 1) == ScopePart("initializer", "vmx_ops", 11)
    assert container("__boot_param") == ScopePart("file", "__boot_param", 14)
    assert container("static int plain") == ScopePart("file", "plain", 1)
    names = idx.file_scope_names()
    assert {"opt_fast", "boot_level", "late_flag", "boot_ops", "cpu_names"} <= names
    assert not {"__read_mostly", "__initdata", "__initconst"} & names


def test_local_names_see_through_attribute_macros() -> None:
    idx = index_source(ATTRIBUTED)
    (fn,) = idx.functions_named("handler")
    assert idx.local_names(fn) == {"cmd", "ret", "a", "b", "x"}
