"""hvcheck works from a wheel, not only from a checkout: the wheel carries every page and table the
tool reads at run time, installs into a fresh venv outside the source tree, and runs there; the user
install pulls no test, lint or fuzz tool; the sdist carries the tests."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--sdist", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("hvcheck-*.whl")
    return wheel


def test_wheel_carries_runtime_data_and_license(dist: Path) -> None:
    names = set(zipfile.ZipFile(_wheel(dist)).namelist())
    for needed in ("hvcheck/docs/rules/M001.md", "hvcheck/docs/layout-format.md", "hvcheck/docs/layout.schema.json",
                   "hvcheck/docs/limits.md", "hvcheck/x86/data/kvm_ioctls.json", "hvcheck/riscv/data/kind-rv64gc.bin",
                   "hvcheck/demo/examples/layout/seed001-stomp.yaml"):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names)


def test_user_install_pulls_no_test_lint_or_fuzz_tool(dist: Path) -> None:
    meta = zipfile.ZipFile(_wheel(dist)).read(next(n for n in zipfile.ZipFile(_wheel(dist)).namelist()
                                                   if n.endswith(".dist-info/METADATA"))).decode()
    required = [ln.split(":", 1)[1].strip() for ln in meta.splitlines() if ln.startswith("Requires-Dist:")]
    unconditional = [r.lower() for r in required if "extra ==" not in r]
    for tool in ("pytest", "ruff", "atheris", "mypy", "hypothesis"):
        assert not any(r.startswith(tool) for r in unconditional), unconditional
    assert "License-Expression: Apache-2.0" in meta
    assert "Project-URL:" in meta and "Classifier:" in meta and "Keywords:" in meta


def test_sdist_carries_the_tests(dist: Path) -> None:
    (sdist,) = dist.glob("hvcheck-*.tar.gz")
    names = tarfile.open(sdist).getnames()
    assert any(n.endswith("tests/conftest.py") for n in names)
    assert any(n.endswith("tests/test_packaging.py") for n in names)
    assert any(n.endswith("LICENSE") for n in names)


def test_wheel_runs_in_a_fresh_venv_outside_the_source_tree(dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(_wheel(dist))], check=True, timeout=300)
    # The dependencies (click, pyelftools, tree-sitter, ...) come from this test run's environment; a
    # .pth adds its site-packages without running its .pth files, so an editable hvcheck there is not
    # visible and `import hvcheck` must resolve to the wheel just installed.
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv / "bin" / "hvcheck"), *args], cwd=work, capture_output=True, text=True,
                              timeout=300)

    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import hvcheck; print(hvcheck.__file__)"],
                           cwd=work, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(venv)), where
    demo = run("demo")
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr
    page = run("rules", "M001")
    assert page.returncode == 0 and page.stdout.startswith("# M001"), page.stdout[:200] + page.stderr
    assert run("docs", "limits").stdout.startswith("# Resource limits")
    example = Path(where).parent / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
    layout = run("layout", str(example), "--format", "json")
    assert layout.returncode == 1 and "M001" in {f["rule"] for f in json.loads(layout.stdout)["findings"]}
    version = run("--version")
    assert "installed package" in version.stdout and "KVM ioctl table" in version.stdout
    sarif = json.loads(run("layout", str(example), "--format", "sarif").stdout)
    help_text = sarif["runs"][0]["tool"]["driver"]["rules"][0]["help"]["text"]
    assert "no documentation page" not in help_text and help_text.startswith("# ")
