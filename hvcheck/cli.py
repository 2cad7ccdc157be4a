"""The `hvcheck` command group. Each subcommand is a thin adapter over a library function.

Subcommands are loaded lazily (DESIGN.md §2: `hvcheck --help` and `hvcheck xcr0` must not import
tree-sitter, pyelftools or libfdt), so this module imports only click and the standard library.
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, overload

import click

from hvcheck import __version__
from hvcheck.errors import InputError

# name -> (module, attribute, one-line help). A command whose module is not present in this
# build is simply not offered, so each area can land on its own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "layout": ("hvcheck.layout.cli", "layout", "Check a system's memory and resource layout."),
    "map": ("hvcheck.map.cli", "map_command", "Draw the memory map of a layout (html, svg, text) or export it (json)."),
    "explain": ("hvcheck.layout.cli", "explain", "Who owns an address: every region containing it, with provenance."),
    "changed": ("hvcheck.layout.cli", "changed", "Check every layout the given (changed) files belong to (pre-commit, CI)."),
    "fix": ("hvcheck.fix.cli", "fix", "Propose (and with --write, apply) layout fixes: punch, reserve, relocate."),
    "xcr0": ("hvcheck.x86.cli", "xcr0", "Check an XCR0 value against the XSAVE rules."),
    "cpuid": ("hvcheck.x86.cli", "cpuid", "Check a CPUID dump's XSAVE and feature consistency."),
    "ioctl": ("hvcheck.x86.cli", "ioctl", "Decode KVM ioctl numbers; analyse ioctl traces."),
    "kvm": ("hvcheck.kvm.cli", "kvm", "Check the live KVM host's answers; prove a guest XSETBV in a real vCPU."),
    "riscv": ("hvcheck.riscv.cli", "riscv", "Check a RISC-V ELF's trap vectors and reachable encodings."),
    "riscv-conformance": (
        "hvcheck.riscv.conformance_cli",
        "riscv_conformance",
        "Run every 16-bit encoding in an emulator and compare with the spec.",
    ),
    "backport": ("hvcheck.backport.cli", "backport", "Check that every backported hunk landed where upstream's did."),
    "triage": ("hvcheck.triage.cli", "triage", "Read a crash log and name the violated invariant."),
    "rules": ("hvcheck.rules_cli", "rules", "List the rules, or show one rule's documentation."),
    "docs": ("hvcheck.docs_cli", "docs", "Print a shipped documentation page (layout format, limits)."),
    "demo": ("hvcheck.demo.cli", "demo", "Reproduce and diagnose the three real incidents hvcheck was built around."),
}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _, _) in COMMANDS.items() if _available(mod)]

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                            list[str]]:
        name = args[0] if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=2, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)

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
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=lambda ctx, _p, v: _print_version(ctx, v),
              help="Show the version and where its data came from, and exit.")
def cli() -> None:
    """hvcheck: find the invariant violations behind silent hypervisor corruption,
    and explain the crash when one got through.

    Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 usage error or invalid input.
    `hvcheck rules` lists every rule; `hvcheck COMMAND --help` names the rules a command checks.
    """


def version_text() -> str:
    """The version, the source of the bundled KVM ioctl table, and the git commit when run from a
    checkout (a wheel install has none)."""
    import json
    import subprocess
    from pathlib import Path

    lines = [f"hvcheck {__version__}"]
    package = Path(__file__).resolve().parent
    try:
        table = json.loads((package / "x86" / "data" / "kvm_ioctls.json").read_text(encoding="utf-8"))
        lines.append(f"KVM ioctl table: generated by {table.get('generated_by')} from {table.get('header')} "
                     f"(Linux {table.get('linux_version')}, {table.get('package')}, {table.get('arch')})")
    except (OSError, ValueError):
        lines.append("KVM ioctl table: missing from this installation")
    if (package.parent / ".git").exists():
        try:
            rev = subprocess.run(["git", "-C", str(package.parent), "describe", "--always", "--dirty", "--abbrev=12"],
                                 capture_output=True, text=True, timeout=10)
            if rev.returncode == 0:
                lines.append(f"source: git checkout {package.parent} at {rev.stdout.strip()}")
        except (OSError, subprocess.SubprocessError):
            pass
    else:
        lines.append(f"source: installed package at {package}")
    return "\n".join(lines)


def _print_version(ctx: click.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(version_text())
    ctx.exit(0)


@dataclass
class OutputOptions:
    format: str
    output: str | None
    fail_on: str


FORMAT_CHOICES = ("text", "json", "sarif", "github", "compact")
_RUN_KEY = "hvcheck.run_options"


def _store(name: str, check: Callable[[Any], None] | None = None) -> Callable[[click.Context, click.Parameter, Any],
                                                                             Any]:
    """Options that only the common tail reads go to the context, not to every command's signature;
    ``check`` refuses a bad value while parsing, before any work is done."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if check is not None and value is not None:
            check(value)
        ctx.meta.setdefault(_RUN_KEY, {})[name] = value
        return value

    return callback


def _check_baseline(path: str) -> None:
    from hvcheck.baseline import read_baseline

    read_baseline(path)


@overload
def common_options(func: Callable[..., Any]) -> Callable[..., Any]: ...


@overload
def common_options(
    func: None = None, *, formats: tuple[str, ...] = ..., format_default: str | None = ..., format_help: str | None = ...
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def common_options(
    func: Callable[..., Any] | None = None,
    *,
    formats: tuple[str, ...] = FORMAT_CHOICES,
    format_default: str | None = "text",
    format_help: str | None = None,
) -> Any:
    """The options every subcommand accepts after its name (DESIGN.md §3): report format and file,
    the failing severity, and what CI adoption needs (config, baseline, suppressions, paths, colour).

    ``@common_options`` as is; a command with output of its own (`hvcheck map`: html, svg) uses
    ``@common_options(formats=FORMAT_CHOICES + (...), ...)`` and still takes every report format."""
    if func is None:
        return lambda f: _add_common_options(f, formats, format_default, format_help)
    return _add_common_options(func, formats, format_default, format_help)


def _add_common_options(func: Callable[..., Any], formats: tuple[str, ...], format_default: str | None,
                        format_help: str | None) -> Callable[..., Any]:
    hidden_tail = [
        click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
                     expose_value=False, callback=_store("color"),
                     help="Colour text output (auto: on a terminal; NO_COLOR / FORCE_COLOR are honoured)."),
        click.option("--sarif-root", "--root", type=click.Path(file_okay=False, path_type=Path), expose_value=False,
                     callback=_store("root"), help="Base of relative paths in reports and fingerprints "
                     "(default: the git top level of the checked path, else the current directory)."),
        click.option("--show-suppressed", is_flag=True, expose_value=False, callback=_store("show_suppressed"),
                     help="Also list the findings suppressed inline, by the config or by the baseline."),
        click.option("--write-baseline", metavar="FILE", expose_value=False, callback=_store("write_baseline"),
                     help="Record the current findings as accepted in FILE (by stable fingerprint)."),
        click.option("--baseline", metavar="FILE", expose_value=False, callback=_store("baseline", _check_baseline),
                     help="Report only findings not accepted in FILE; say how many accepted ones are gone."),
        click.option("--config", type=click.Path(dir_okay=False, path_type=Path), expose_value=False,
                     callback=_store("config"), help="Project configuration (default: .hvcheck.toml or "
                     "pyproject.toml [tool.hvcheck], found by walking up from the checked path)."),
    ]
    for option in hidden_tail:
        func = option(func)
    func = click.option(
        "--fail-on",
        type=click.Choice(["error", "warning", "note"]),
        default=None,
        help="Exit 1 when a finding at or above this severity exists [default: error, or the config's fail-on].",
    )(func)
    func = click.option("--output", "-o", type=click.Path(dir_okay=False), callback=_record("output"),
                        help="Write the report to FILE.")(func)
    func = click.option(
        "--format",
        "fmt",
        type=click.Choice(formats),
        default=format_default,
        show_default=format_default is not None,
        is_eager=True,
        callback=_record("fmt"),
        help=format_help or "Report format: text, json, sarif (GitHub code scanning), github (workflow annotations), "
                            "compact (path:line:col: severity rule message).",
    )(func)
    return func


def run_options() -> Any:
    """The common options of the running command (hvcheck.policy.RunOptions)."""
    from hvcheck.policy import RunOptions

    ctx = click.get_current_context(silent=True)
    raw = dict(ctx.meta.get(_RUN_KEY, {})) if ctx is not None else {}
    return RunOptions(config=raw.get("config"), baseline=raw.get("baseline"), write_baseline=raw.get("write_baseline"),
                      show_suppressed=bool(raw.get("show_suppressed")), root=raw.get("root"),
                      color=raw.get("color") or "auto")


def project_config(inputs: list[str] | None = None) -> Any:
    """The project configuration for this run (loaded once; hvcheck.config.Config)."""
    from hvcheck.config import config_for

    ctx = click.get_current_context(silent=True)
    if ctx is not None and "hvcheck.config" in ctx.meta:
        return ctx.meta["hvcheck.config"]
    options = run_options()
    config = config_for(options.config, Path(inputs[0]) if inputs else None)
    if ctx is not None:
        ctx.meta["hvcheck.config"] = config
    return config


def config_default(name: str, given: Any, inputs: list[str] | None = None, default: Any = None) -> Any:
    """An option's value: given on the command line, else the project config's default, else ``default``."""
    ctx = click.get_current_context(silent=True)
    param = name.replace("-", "_")
    if ctx is not None and given is not None:
        source = ctx.get_parameter_source(param)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            return given
    value = project_config(inputs).defaults.get(name)
    if value is not None:
        return value
    return given if given is not None else default


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
    """Wrap text to the terminal's width (COLUMNS, else the terminal's size). Piped or file output
    keeps one line per fact, whatever COLUMNS says: shells and readline export it to children."""
    if output is not None or not _stdout_is_tty():
        return None
    import shutil

    return max(shutil.get_terminal_size().columns, 40)


def use_color(fmt: str, output: str | None, choice: str = "auto") -> bool:
    """--color always/never win; then NO_COLOR (when non-empty), FORCE_COLOR; then: only on a terminal."""
    if fmt != "text" or output is not None or choice == "never":
        return False
    if choice == "always":
        return True
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return _stdout_is_tty()


def _stdout_is_tty() -> bool:
    # sys.stdout is None when the shell closed it (`hvcheck ... >&-`)
    return sys.stdout is not None and sys.stdout.isatty()


def prepare_run(findings: list[Any], inputs: list[str] | None = None) -> tuple[Any, Any]:
    """The run's post-processing (config, suppressions, baseline, fingerprints) and what the
    reporters need to know about it: (hvcheck.policy.Outcome, hvcheck.report.RunInfo)."""
    from hvcheck.policy import process, summary_line
    from hvcheck.report import RunInfo

    options = run_options()
    project_config(inputs)  # loaded here when the command did not need it earlier
    outcome = process(findings, inputs, options)
    ctx = click.get_current_context(silent=True)
    command = ctx.info_name if ctx is not None and ctx.info_name else "hvcheck"
    info = RunInfo(command=command, root=outcome.root, summary=summary_line(outcome),
                   show_suppressed=options.show_suppressed, baseline=bool(options.baseline))
    return outcome, info


def finish(
    findings: list[Any],
    *,
    fmt: str,
    output: str | None,
    fail_on: str | None,
    title: str | None = None,
    preamble: str | None = None,
    extra: dict[str, Any] | None = None,
    inputs: list[str] | None = None,
) -> int:
    """Post-process (config, suppressions, baseline), render and write the report; return the
    contract's exit code (0 or 1) for `main` to exit with. Suppressed findings never fail a run."""
    import gc

    from hvcheck.report import render_chunks

    # Fingerprints and reports are many small acyclic objects (dicts, lists, strings) per finding:
    # with 50,000 findings the cyclic collector's full scans cost as much as the work (2.2 s of
    # finding_to_json's 0.6 s). Reference counting frees them; the collector is back on return.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        outcome, info = prepare_run(findings, inputs)
        text = render_chunks(outcome.findings, fmt, color=use_color(fmt, output, run_options().color), title=title,
                             preamble=preamble, extra=extra, width=text_width(output) if fmt == "text" else None,
                             run=info)
        write_report(text, output)
    finally:
        if was_enabled:
            gc.enable()
    return exit_code(outcome.reported, resolve_fail_on(fail_on, inputs))


def resolve_fail_on(given: str | None, inputs: list[str] | None = None) -> str:
    value = str(config_default("fail-on", given, inputs, "error"))
    if value not in ("error", "warning", "note"):
        from hvcheck.errors import InputError

        config = project_config(inputs)
        raise InputError(str(config.path), f"fail-on = {value!r}: expected error, warning or note")
    return value


def write_report(text: str | Iterable[str], output: str | None) -> None:
    """The rendered report (a string, or pieces written as they are made) to --output FILE, or to
    stdout."""
    pieces = [text] if isinstance(text, str) else text
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                for piece in pieces:
                    fh.write(piece)
        except OSError as exc:
            raise InputError(output, f"cannot write report: {exc.strerror}") from None
    elif sys.stdout is None:
        # stdout closed (`>&-`): the report has nowhere to go. click.echo would drop it and let the
        # run exit 0; EBADF (not EPIPE, which click intercepts) ends in main's one-line exit 2.
        raise OSError(errno.EBADF, "standard output is closed")
    else:
        # click.echo flushes each call: gather pieces into blocks of about 1 MiB
        block: list[str] = []
        size = 0
        for piece in pieces:
            block.append(piece)
            size += len(piece)
            if size >= 1 << 20:
                click.echo("".join(block), nl=False)
                block, size = [], 0
        if block or isinstance(text, str):
            click.echo("".join(block), nl=False)


def exit_code(findings: list[Any], fail_on: str | None) -> int:
    """1 when a finding is at or above --fail-on, else 0 (DESIGN.md §3)."""
    from hvcheck.findings import Severity

    threshold = Severity.parse(fail_on or "error")
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


# What the running command asked for, recorded while its options are parsed, so that an error
# raised anywhere later still yields the requested machine-readable document.
_REQUEST: dict[str, Any] = {}
_ARGV: list[str] = []


def _record(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        _REQUEST[name] = value
        _REQUEST["command"] = ctx.info_name
        return value

    return callback


def _request_from_argv(argv: list[str]) -> None:
    """Usage errors happen before option callbacks run: take --format/--output from the raw words."""
    words = list(argv)
    for i, word in enumerate(words):
        for name, key in (("--format", "fmt"), ("--output", "output"), ("-o", "output")):
            if word == name and i + 1 < len(words):
                _REQUEST.setdefault(key, words[i + 1])
            elif word.startswith(name + "="):
                _REQUEST.setdefault(key, word.split("=", 1)[1])
    if "command" not in _REQUEST:
        _REQUEST["command"] = next((w for w in words if not w.startswith("-")), "hvcheck")


def _error_document(message: str) -> None:
    """With --format json or sarif, a failed run still writes a valid document (to --output when
    given) carrying the error: a CI upload step then shows the error instead of a missing file."""
    _request_from_argv(_ARGV)
    fmt = _REQUEST.get("fmt")
    if fmt not in ("json", "sarif"):
        return
    from hvcheck.report import RunInfo, render

    try:
        text = render([], fmt, run=RunInfo(command=str(_REQUEST.get("command") or "hvcheck"), errors=[message]))
        output = _REQUEST.get("output")
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    except OSError:
        pass  # the one-line error on stderr still says what happened


def _fail(message: str, *, document: bool = True) -> NoReturn:
    if document:
        _error_document(message)
    try:
        click.echo(f"error: {message}", err=True)
    except OSError:
        pass
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: bad input is one line on stderr and exit 2, never a traceback."""
    _REQUEST.clear()
    _ARGV[:] = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=argv, prog_name="hvcheck", standalone_mode=False)
        sys.stdout.flush()
    except click.exceptions.Exit as done:  # --help, --version
        sys.exit(done.exit_code)
    except click.Abort:
        _fail("interrupted")
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `hvcheck` / `hvcheck layout`: the help
        click.echo(exc.format_message())
        sys.exit(2)
    except click.ClickException as exc:
        _fail(_usage_line(exc))
    except InputError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except RecursionError:
        _fail("input nested too deeply to analyse")
    except MemoryError:
        _fail("input too large to analyse in memory")
    except BrokenPipeError:
        # The reader went away (`hvcheck ... | head`): nothing more to say, and nowhere to say it.
        _quiet_stdout()
        sys.exit(2)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EDQUOT, errno.EBADF):
            _quiet_stdout()
            _fail(f"<stdout>: cannot write the report: {exc.strerror}", document=False)
        _internal(exc)
    except Exception as exc:  # noqa: BLE001 - the contract forbids tracebacks on any input
        _internal(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        if getattr(sys.stdout, "wrapped", sys.stdout) is None:
            # stdout was closed: give the final flush at exit a stream to flush
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    except (OSError, ValueError):
        pass


def _internal(exc: BaseException) -> NoReturn:
    if os.environ.get("HVCHECK_DEBUG"):
        raise exc
    _fail(f"internal error ({type(exc).__name__}: {exc}); this is a bug in hvcheck, rerun with HVCHECK_DEBUG=1 "
          "for the traceback")


def _usage_line(exc: click.ClickException) -> str:
    """click's usage errors as one line: what is wrong, and the command to ask for help."""
    from hvcheck.errors import one_line

    path_error = _path_error(exc)
    if path_error is not None:
        return path_error
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return one_line(message + hint)


# click's own check of a path option: "File '/x' is a directory." / "... does not exist."
_CLICK_PATH = re.compile(r"^(?:File|Directory|Path) (['\"])(?P<path>.*)\1 (?P<what>[^'\"]+?)\.?$", re.S)
_PATH_WHAT = {"is a directory": "is a directory, not a file", "does not exist": "no such file or directory",
              "is a file": "is a file, not a directory"}


def _path_error(exc: click.ClickException) -> str | None:
    """A bad path named by click as `path: what (option)`, the shape of every other input error."""
    from hvcheck.errors import one_line

    param = getattr(exc, "param", None)
    if not isinstance(exc, click.BadParameter) or param is None or not isinstance(param.type, click.Path):
        return None
    match = _CLICK_PATH.match(exc.message)
    if match is None:
        return None
    what = _PATH_WHAT.get(match["what"], match["what"])
    option = param.opts[0] if param.opts and param.opts[0].startswith("-") else (param.human_readable_name or "")
    return one_line(f"{match['path']}: {what} ({option})")


if __name__ == "__main__":
    main()
