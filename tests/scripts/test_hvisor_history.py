"""scripts/hvisor_history.py on a small git history of our own: every commit that changes a layout
input is checked board by board, a commit that changes nothing relevant is not, the incident is
found at its first bad commit, the fix is seen, and the summary checks the truth it is given."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import FIXTURES, ROOT

REPO = FIXTURES / "hvisor" / "repo"
BOARD = "platform/aarch64/clean"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hvisor_history", ROOT / "scripts" / "hvisor_history.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["hvisor_history"] = module
    spec.loader.exec_module(module)
    return module


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": "2025-03-01T00:00:00", "GIT_COMMITTER_DATE":
           "2025-03-01T00:00:00"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """clean -> README only -> hvisor's base moved into zone1's RAM -> moved back."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "hv"
    shutil.copytree(REPO, repo)
    for other in ("aarch64/faulty", "aarch64/stomp", "loongarch64", "riscv64", "x86_64"):
        shutil.rmtree(repo / "platform" / other)
    _git(repo, "init", "-q", "-b", "dev")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "clean")
    shas = {"clean": _git(repo, "rev-parse", "--short=7", "HEAD")}
    (repo / "README.md").write_text("not a layout input\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "docs")
    shas["docs"] = _git(repo, "rev-parse", "--short=7", "HEAD")
    ld = repo / BOARD / "linker.ld"
    ld.write_text(ld.read_text().replace("0x40400000", "0x50000000"))
    _git(repo, "commit", "-q", "-am", "move hvisor")
    shas["bad"] = _git(repo, "rev-parse", "--short=7", "HEAD")
    ld.write_text(ld.read_text().replace("0x50000000", "0x40400000"))
    _git(repo, "commit", "-q", "-am", "move it back")
    shas["fixed"] = _git(repo, "rev-parse", "--short=7", "HEAD")
    return repo, shas


def test_scan_and_summary(history: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, shas = history
    hh = _script()
    records, meta = hh.scan(repo, "dev", jobs=1, limit=None)
    commits = [r["commit"] for r in records]
    assert meta["commits"] == 3 and meta["all_commits"] == 4
    assert shas["docs"] not in commits            # changed no layout input: its results are its parent's
    by = {r["commit"]: r for r in records if r["board"] == "aarch64/clean"}
    assert "M001" not in by[shas["clean"]]["rules"] and "M001" in by[shas["bad"]]["rules"]
    assert by[shas["bad"]]["parents"] == [shas["clean"]]   # through the unchecked docs commit
    assert not any(str(tmp_path) in json.dumps(r) for r in records)   # paths relative to the tree
    [bad] = hh.first_bad(records, "M001")
    assert (bad["board"], bad["commit"]) == ("aarch64/clean", shas["bad"])
    assert [r["commit"] for r in hh.fixes(records, "M001")] == [shas["fixed"]]
    truth = {"incidents": [{"board": "aarch64/clean", "first_bad": shas["bad"], "fixed_by": shas["fixed"],
                            "why": "moved into zone1's RAM"}],
             "clean": [{"board": "aarch64/clean", "commits": [shas["clean"]], "why": "below every zone"}]}
    text, ok = hh.summary(records, meta, truth)
    assert ok and "3 of 3 hold" in text and "moved into zone1's RAM" in text
    wrong = {"clean": [{"board": "aarch64/clean", "commits": [shas["bad"]], "why": "claimed clean"}]}
    text, ok = hh.summary(records, meta, wrong)
    assert not ok and "**NO**" in text


def test_command_line_round_trip(history: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, shas = history
    out = tmp_path / "h.jsonl"
    script = str(ROOT / "scripts" / "hvisor_history.py")
    proc = subprocess.run([sys.executable, script, str(repo), "--jobs", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "3 commits" in proc.stderr and "0 crashes" in proc.stderr
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"incidents": [{"board": "aarch64/clean", "first_bad": shas["bad"], "why": "w"}]}))
    md = tmp_path / "h.md"
    proc = subprocess.run([sys.executable, script, "--summary", str(out), "--truth", str(truth), "--markdown",
                           str(md)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"`{shas['bad']}`" in md.read_text()
