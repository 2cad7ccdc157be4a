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

# The three real incidents hvcheck was built around, named by what happened (a scenario's SEED is
# the key). User-facing output says these, never the internal seed numbers.
INCIDENTS = {
    "000": "guest kernel #GP on XSETBV (AMX half-enabled by a misplaced KVM backport)",
    "001": "hypervisor memory handed to the root Linux as RAM (hvisor)",
    "002": "RISC-V trap vector set into the middle of an instruction",
}


def incident(mod: ModuleType) -> str:
    return INCIDENTS.get(getattr(mod, "SEED", ""), "other")


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
