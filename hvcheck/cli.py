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
    "layout": ("hvcheck.layout.cli", "layout", "Check a system's memory and resource layout."),
    "map": ("hvcheck.map.cli", "map_command", "Draw the memory map of a layout (html, svg, text) or export it (json)."),
    "explain": ("hvcheck.layout.cli", "explain", "Who owns an address: every region containing it, with provenance."),
    "fix": ("hvcheck.fix.cli", "fix", "Propose (and with --write, apply) layout fixes: punch, reserve, relocate."),
    "xcr0": ("hvcheck.x86.cli", "xcr0", "Check an XCR0 value against the XSAVE rules."),
    "cpuid": ("hvcheck.x86.cli", "cpuid", "Check a CPUID dump's XSAVE and feature consistency."),
    "ioctl": ("hvcheck.x86.cli", "ioctl", "Decode KVM ioctl numbers; analyse ioctl traces."),
    "riscv": ("hvcheck.riscv.cli", "riscv", "Check a RISC-V ELF's trap vectors and reachable encodings."),
    "riscv-conformance": (
        "hvcheck.riscv.conformance_cli",
        "riscv_conformance",
        "Run every 16-bit encoding in an emulator and compare with the spec.",
    ),
    "backport": ("hvcheck.backport.cli", "backport", "Check that every backported hunk landed where upstream's did."),
    "triage": ("hvcheck.triage.cli", "triage", "Read a crash log and name the violated invariant."),
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
    `hvcheck rules` lists every rule; `hvcheck COMMAND --help` names the rules a command checks.
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


class AreaCommand(click.Command):
    """A subcommand whose help names its area's rules: ``{rules}`` in the help text is replaced by
    the IDs declared in the rule registry, computed only when help is shown (start-up budget)."""

    def __init__(self, *args: Any, area: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.area = area

    def _with_rules(self, text: str | None) -> str | None:
        if text and "{rules}" in text and self.area:
            from hvcheck.catalogue import rule_range

            return text.replace("{rules}", rule_range(self.area))
        return text

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.help = self._with_rules(self.help)
        super().format_help_text(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        self.help = self._with_rules(self.help)
        return super().get_short_help_str(limit)


def text_width(output: str | None) -> int | None:
    """Wrap text to the terminal's width; piped or file output keeps one line per fact, unless
    COLUMNS asks for a width."""
    import shutil

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) >= 40:
        return int(columns)
    if output is None and sys.stdout.isatty():
        return max(shutil.get_terminal_size().columns, 40)
    return None


def use_color(fmt: str, output: str | None) -> bool:
    """NO_COLOR (when non-empty) wins, then FORCE_COLOR, then: colour only on a terminal."""
    if fmt != "text" or output is not None:
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def finish(
    findings: list[Any],
    *,
    fmt: str,
    output: str | None,
    fail_on: str,
    title: str | None = None,
    preamble: str | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Render and write the report; return the contract's exit code (0 or 1) for `main` to exit with."""
    from hvcheck.report import render

    text = render(findings, fmt, color=use_color(fmt, output), title=title, preamble=preamble, extra=extra,
                  width=text_width(output) if fmt == "text" else None)
    write_report(text, output)
    return exit_code(findings, fail_on)


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


def exit_code(findings: list[Any], fail_on: str) -> int:
    """1 when a finding is at or above --fail-on, else 0 (DESIGN.md §3)."""
    from hvcheck.findings import Severity

    threshold = Severity.parse(fail_on)
    return 1 if any(f.sev >= threshold for f in findings) else 0


def collect_per_input(
    inputs: Any, check: Callable[[Any], list[Any]], checks: str
) -> tuple[list[Any], int]:
    """Run ``check`` on each input of a multi-input command; an unreadable input becomes an E001
    finding naming the ``checks`` that did not run, and the others still run (DESIGN.md §3).
    Returns the findings and how many inputs were checked."""
    from hvcheck.findings import input_error_finding

    findings: list[Any] = []
    checked = 0
    for item in inputs:
        try:
            findings.extend(check(item))
            checked += 1
        except InputError as exc:
            findings.append(input_error_finding(exc.path, exc.line, exc.message, checks))
    return findings, checked


def main(argv: list[str] | None = None) -> None:
    """Console entry point: bad input is one line on stderr and exit 2, never a traceback."""
    try:
        code = cli.main(args=argv, prog_name="hvcheck", standalone_mode=False)
    except click.exceptions.Exit as done:  # --help, --version
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("error: interrupted", err=True)
        sys.exit(2)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `hvcheck` / `hvcheck layout`: the help
        click.echo(exc.format_message())
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"error: {_usage_line(exc)}", err=True)
        sys.exit(2)
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
    sys.exit(code if isinstance(code, int) else 0)


def _usage_line(exc: click.ClickException) -> str:
    """click's usage errors as one line: what is wrong, and the command to ask for help."""
    from hvcheck.errors import one_line

    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return one_line(message + hint)


if __name__ == "__main__":
    main()
