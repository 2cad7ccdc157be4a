"""Integrations, each run for real: the pre-commit hooks (`pre-commit try-repo` on a scratch git
repository with a broken and a clean hvisor board), the documented GitHub Actions workflow (valid
YAML whose hvcheck commands run), and shell completion."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, ROOT, require_tool, run_hvcheck

WORKFLOW_DOC = ROOT / "docs" / "ci.md"


def _scratch_hvisor(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    shutil.copytree(FIXTURES / "hvisor" / "repo" / "src", repo / "src")
    for board in ("clean", "faulty"):
        shutil.copytree(FIXTURES / "hvisor" / "repo" / "platform" / "aarch64" / board,
                        repo / "platform" / "aarch64" / board)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "boards"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env)
    return repo


def test_pre_commit_hooks_file_is_valid() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    ids = {h["id"] for h in hooks}
    assert {"hvcheck-hvisor", "hvcheck-layout"} <= ids
    board_files = ["platform/aarch64/rk3568/board.rs", "platform/riscv64/qemu-plic/configs/zone1-linux.json",
                   "platform/aarch64/rk3568/image/dts/zone0.dts", "platform/aarch64/rk3568/linker.ld"]
    hvisor = next(h for h in hooks if h["id"] == "hvcheck-hvisor")
    assert all(re.search(hvisor["files"], f) for f in board_files)
    assert not re.search(hvisor["files"], "src/main.rs")


def test_pre_commit_try_repo_fails_on_the_broken_board_only(tmp_path: Path) -> None:
    require_tool("git")
    if shutil.which("pre-commit") is None and subprocess.run([sys.executable, "-m", "pre_commit", "--version"],
                                                          capture_output=True).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("pre-commit is a test dependency and must be installed in CI")
        pytest.skip("pre-commit not installed")
    repo = _scratch_hvisor(tmp_path)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache")}

    def try_repo(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "hvcheck-hvisor",
                               "--files", *files], cwd=repo, env=env, capture_output=True, text=True, timeout=1500)

    broken = try_repo("platform/aarch64/faulty/board.rs", "platform/aarch64/faulty/linker.ld")
    assert broken.returncode == 1, broken.stdout[-3000:] + broken.stderr[-2000:]
    assert "M005" in broken.stdout and "Failed" in broken.stdout
    good = try_repo("platform/aarch64/clean/board.rs")
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-2000:]
    assert "Passed" in good.stdout


def _workflow() -> dict:
    text = WORKFLOW_DOC.read_text()
    m = re.search(r"```yaml\n(# \.github/workflows/hvcheck\.yml\n.*?)```", text, re.S)
    assert m, "docs/ci.md has no workflow block"
    return yaml.safe_load(m.group(1))


def test_documented_workflow_is_valid_and_its_commands_run(tmp_path: Path) -> None:
    wf = _workflow()
    assert wf.get("on", wf.get(True)) and wf["jobs"]  # PyYAML (YAML 1.1) reads the key `on` as True
    steps = [s for job in wf["jobs"].values() for s in job["steps"]]
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif") for s in steps)
    runs = [line.strip() for s in steps if "run" in s for line in s["run"].splitlines() if line.strip()]
    hvcheck_lines = [line for line in runs if line.startswith("hvcheck ")]
    assert hvcheck_lines, runs
    repo = _scratch_hvisor(tmp_path)
    # The one-time adoption step the page documents, then exactly the workflow's hvcheck commands,
    # in order, in a checkout that already has findings: all accepted, so every step passes.
    adopt = run_hvcheck("layout", ".", "--all", "--write-baseline", ".hvcheck-baseline.json", cwd=repo)
    assert adopt.returncode == 0, adopt.stderr
    assert "hvcheck layout . --all --write-baseline .hvcheck-baseline.json" in WORKFLOW_DOC.read_text()
    for line in hvcheck_lines:
        argv = shlex.split(line.replace("|| true", ""))[1:]
        proc = run_hvcheck(*argv, cwd=repo)
        assert proc.returncode == 0, f"{line}: {proc.stdout[-1000:]} {proc.stderr}"
    sarif = (repo / "hvcheck.sarif").read_text()
    assert '"baselineState": "unchanged"' in sarif


def test_shell_completion_script_is_generated() -> None:
    exe = shutil.which("hvcheck") or str(Path(sys.executable).parent / "hvcheck")
    proc = subprocess.run([exe], env={**os.environ, "_HVCHECK_COMPLETE": "bash_source"}, capture_output=True,
                          text=True, timeout=120)
    assert "_hvcheck_completion" in proc.stdout and "complete " in proc.stdout
    assert "_HVCHECK_COMPLETE" in (ROOT / "docs" / "ci.md").read_text()
