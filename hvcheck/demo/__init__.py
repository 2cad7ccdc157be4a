"""Bundled reproductions of the seed incidents.

Each area adds one module ``scenario_<name>.py`` here exposing ``TITLE`` (str), ``SEED`` (the
seed file it reproduces), optionally ``ORDER`` (its place within that seed, default 50) and
``steps() -> list[DemoStep]``. `hvcheck demo` discovers them, so
adding an incident changes nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from hvcheck.findings import Finding

EXAMPLES = Path(__file__).resolve().parent / "examples"


@dataclass
class DemoStep:
    """One command of a demo: what the user would type, the library call that does it, and the
    rule IDs it must produce (an empty set means the step must be clean)."""

    command: str
    run: Callable[[], list[Finding]]
    expect: set[str] = field(default_factory=set)
    explain: str = ""
    preamble: Callable[[], str] | None = None
    skip: str = ""  # why this step cannot run on this machine (shown instead of a verdict; not a failure)


def scenarios() -> list[ModuleType]:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith("scenario_"))
    mods = [importlib.import_module(f"{__name__}.{name}") for name in names]
    return sorted(mods, key=lambda m: (getattr(m, "SEED", ""), getattr(m, "ORDER", 50), m.__name__))
