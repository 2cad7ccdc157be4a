"""The `hvcheck` command group. Each subcommand is a thin adapter over a library function.

Subcommands are loaded lazily (DESIGN.md §2: `hvcheck --help` and `hvcheck xcr0` must not import
tree-sitter, pyelftools or libfdt), so this module imports only click and the standard library.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from hvcheck import __version__
from hvcheck.errors import InputError

# name -> (module, attribute, one-line help). A command whose module is not present in this
# build is simply not offered, so each area can land on its own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "layout": ("hvcheck.layout.cli", "layout", "Check a system's memory and resource layout (M001-M014)."),
    "explain": ("hvcheck.layout.cli", "explain", "Who owns an address: every region containing it, with provenance."),
    "fix": ("hvcheck.fix.cli", "fix", "Propose (and with --write, apply) layout fixes: punch, reserve, relocate."),
    "xcr0": ("hvcheck.x86.cli", "xcr0", "Check an XCR0 value against the XSAVE rules (X001/X002)."),
    "cpuid": ("hvcheck.x86.cli", "cpuid", "Check a CPUID dump's XSAVE and feature consistency (X003-X005)."),
    "ioctl": ("hvcheck.x86.cli", "ioctl", "Decode KVM ioctl numbers; analyse ioctl traces (X010)."),
    "riscv": ("hvcheck.riscv.cli", "riscv", "Check a RISC-V ELF's trap vectors and reachable encodings (R001-R005)."),
    "riscv-conformance": (
        "hvcheck.riscv.conformance_cli",
        "riscv_conformance",
        "Run every 16-bit encoding in an emulator and compare with the spec (R010).",
    ),
    "backport": ("hvcheck.backport.cli", "backport", "Check that every backported hunk landed where upstream's did (P001-P005)."),
    "triage": ("hvcheck.triage.cli", "triage", "Read a crash log and name the violated invariant (T001-T005)."),
    "rules": ("hvcheck.rules_cli", "rules", "List the rules, or show one rule's documentation."),
    "demo": ("hvcheck.demo.cli", "demo", "Reproduce and diagnose the seed incidents from bundled examples."),
}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _, _) in COMMANDS.items() if _available(mod)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None or not _available(entry[0]):
            return None
        module = importlib.import_module(entry[0])
        command = getattr(module, entry[1], None)
        return command if isinstance(command, click.Command) else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the short help from the table so `--help` imports no subcommand module.
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hvcheck")
def cli() -> None:
    """hvcheck: find the invariant violations behind silent hypervisor corruption,
    and explain the crash when one got through.

    Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 usage error or invalid input.
    """


@dataclass
class OutputOptions:
    format: str
    output: str | None
    fail_on: str


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--format/--output/--fail-on, accepted by every subcommand after its name (DESIGN.md §3)."""
    func = click.option(
        "--fail-on",
        type=click.Choice(["error", "warning", "note"]),
        default="error",
        show_default=True,
        help="Exit 1 when a finding at or above this severity exists.",
    )(func)
    func = click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE.")(func)
    func = click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "sarif"]),
        default="text",
        show_default=True,
        help="Report format.",
    )(func)
    return func


def finish(
    findings: list[Any],
    *,
    fmt: str,
    output: str | None,
    fail_on: str,
    title: str | None = None,
    preamble: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Render, write, and exit with the contract's code (0 or 1)."""
    from hvcheck.report import render

    color = output is None and fmt == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    text = render(findings, fmt, color=color, title=title, preamble=preamble, extra=extra)
    write_report(text, output)
    exit_for(findings, fail_on)


def write_report(text: str, output: str | None) -> None:
    """The rendered report to --output FILE, or to stdout."""
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise InputError(output, f"cannot write report: {exc.strerror}") from None
    else:
        click.echo(text, nl=False)


def exit_for(findings: list[Any], fail_on: str) -> None:
    """Exit 1 when a finding is at or above --fail-on, else 0 (DESIGN.md §3)."""
    from hvcheck.findings import Severity

    threshold = Severity.parse(fail_on)
    sys.exit(1 if any(f.sev >= threshold for f in findings) else 0)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: bad input is one line on stderr and exit 2, never a traceback."""
    try:
        cli.main(args=argv, prog_name="hvcheck")
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(2)
    except RecursionError:
        click.echo("error: input nested too deeply to analyse", err=True)
        sys.exit(2)
    except MemoryError:
        click.echo("error: input too large to analyse in memory", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - the contract forbids tracebacks on any input
        if os.environ.get("HVCHECK_DEBUG"):
            raise
        click.echo(
            f"error: internal error ({type(exc).__name__}: {exc}); this is a bug in hvcheck, "
            "rerun with HVCHECK_DEBUG=1 for the traceback",
            err=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
