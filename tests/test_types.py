"""The type checker is part of the test suite: mypy with the configuration in pyproject.toml
(strict on findings, reporters, layout and core) must pass, and the list of modules still excused
(`ignore_errors`) may only shrink."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest
from conftest import ROOT


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)


def _have_mypy() -> None:
    if subprocess.run([sys.executable, "-c", "import mypy"], capture_output=True).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("mypy is a test dependency and must be installed in CI")
        pytest.skip("mypy not installed")


def _excused() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    return [m for o in config if o.get("ignore_errors") for m in o["module"]]


def test_mypy_passes() -> None:
    _have_mypy()
    proc = _mypy()
    assert proc.returncode == 0, proc.stdout[-4000:]


def _config_without_excuses(path: str) -> None:
    """The project's mypy configuration as an ini file, minus the ignore_errors excuses."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]

    def value(v: object) -> str:
        return ("True" if v else "False") if isinstance(v, bool) else str(v)

    lines = ["[mypy]"] + [f"{k} = {value(v)}" for k, v in config.items() if k not in ("overrides", "files")]
    for override in config["overrides"]:
        if override.get("ignore_errors"):
            continue
        for module in override["module"]:
            lines.append(f"[mypy-{module}]")
            lines += [f"{k} = {value(v)}" for k, v in override.items() if k != "module"]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def test_excused_modules_still_need_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An excused module that type-checks cleanly must leave the list (the list only shrinks)."""
    _have_mypy()
    excused = _excused()
    if not excused:
        return
    ini = tmp_path / "mypy.ini"
    _config_without_excuses(str(ini))
    proc = _mypy("--config-file", str(ini), *[str(ROOT / (m.replace(".", "/") + ".py")) for m in excused])
    failing = {m for m in excused if re.search(rf"^{re.escape(m.replace('.', '/'))}\.py:", proc.stdout, re.M)}
    assert set(excused) - failing == set(), f"type-clean now, remove from the excused list: {set(excused) - failing}"


def test_no_module_is_excused_any_more() -> None:
    """The list emptied (every area type-checks): a module that needs an excuse now is a regression."""
    assert _excused() == []
