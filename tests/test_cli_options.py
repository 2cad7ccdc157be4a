"""One spelling per concept across subcommands: an option name means the same thing (type, file or
directory, metavar) wherever it appears, and known synonyms never creep in."""

from __future__ import annotations

import click
from conftest import run_hvcheck

from hvcheck.cli import COMMANDS, cli

# Concepts with one spelling: the left side must never appear as an option.
SYNONYMS = {"--layout-file": "--layout", "--hv-elf": "--elf", "--hypervisor-elf": "--elf", "--elf-file": "--elf",
            "--cpuid-dump": "--cpuid", "--out": "--output", "--fmt": "--format", "--output-format": "--format",
            "--boards": "--board", "--all-boards": "--all", "--colour": "--color", "--fail-level": "--fail-on"}


def _options() -> dict[str, list[tuple[str, click.Option]]]:
    ctx = click.Context(cli)
    found: dict[str, list[tuple[str, click.Option]]] = {}
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        for param in command.params:
            if isinstance(param, click.Option):
                for opt in param.opts:
                    found.setdefault(opt, []).append((name, param))
    return found


def _shape(param: click.Option) -> tuple[object, ...]:
    t = param.type
    return (type(t).__name__, getattr(t, "dir_okay", None), getattr(t, "file_okay", None), param.metavar,
            param.is_flag, param.multiple)


def test_an_option_means_the_same_everywhere() -> None:
    for opt, uses in _options().items():
        shapes = {_shape(p) for _, p in uses}
        assert len(shapes) == 1, f"{opt} differs between {[n for n, _ in uses]}: {shapes}"


def test_no_synonym_spellings() -> None:
    used = set(_options())
    assert not used & set(SYNONYMS), {o: SYNONYMS[o] for o in used & set(SYNONYMS)}


def test_every_subcommand_takes_the_common_options() -> None:
    options = _options()
    for common in ("--format", "--output", "--fail-on", "--config", "--baseline", "--write-baseline",
                   "--show-suppressed", "--sarif-root", "--color"):
        assert {n for n, _ in options[common]} == set(COMMANDS), common


def test_mistyped_subcommand_suggests_the_right_one() -> None:
    proc = run_hvcheck("lyout", "x.yaml")
    assert proc.returncode == 2 and "Did you mean 'layout'" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_demo_of_an_unknown_scenario_lists_the_scenarios() -> None:
    proc = run_hvcheck("demo", "nosuch")
    assert proc.returncode == 2 and "scenarios:" in proc.stderr and "layout" in proc.stderr


def test_demo_names_incidents_not_seed_numbers() -> None:
    proc = run_hvcheck("demo", "--list")
    assert proc.returncode == 0 and "seed" not in proc.stdout.lower()
    assert "hypervisor memory handed to the root Linux" in proc.stdout
