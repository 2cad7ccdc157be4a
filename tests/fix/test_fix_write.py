"""--write: atomic, .orig backups, all files or none (interrupted or refused)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hvcheck.fix import safewrite
from hvcheck.fix.engine import run_fix
from hvcheck.fix.safewrite import write_all
from hvcheck.fix.textedit import FixError
from tests.conftest import ROOT, run_hvcheck

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def test_write_applies_and_backs_up(tmp_path: Path) -> None:
    target = tmp_path / "seed.yaml"
    shutil.copy(SEED, target)
    expected = run_fix(target, "punch").changed_files[0].result()
    proc = run_hvcheck("fix", str(target), "--strategy", "punch", "--write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert target.read_text() == expected
    assert (tmp_path / "seed.yaml.orig").read_bytes() == SEED.read_bytes()
    assert "written:" in proc.stdout
    assert not list(tmp_path.glob(".*hvcheck-tmp"))
    # idempotent: a second --write has nothing to do and touches nothing
    before = _snapshot(tmp_path)
    again = run_hvcheck("fix", str(target), "--strategy", "punch", "--write")
    assert again.returncode == 0 and "nothing to change" in again.stdout
    assert _snapshot(tmp_path) == before


def test_backup_never_overwritten(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    a.write_text("one")
    (tmp_path / "a.txt.orig").write_text("older backup")
    backups = write_all([(a, "one", "two")])
    assert backups == [tmp_path / "a.txt.orig.1"]
    assert (tmp_path / "a.txt.orig").read_text() == "older backup"
    assert a.read_text() == "two"


@pytest.mark.parametrize("fail_at", [0, 1, 2])
def test_interrupted_write_leaves_every_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       fail_at: int) -> None:
    files = []
    for i in range(3):
        p = tmp_path / f"f{i}.dts"
        p.write_text(f"original {i}\n")
        files.append(p)
    before = _snapshot(tmp_path)

    def crash(index: int, path: Path) -> None:
        if index == fail_at:
            raise KeyboardInterrupt  # e.g. Ctrl-C between two files

    monkeypatch.setattr(safewrite, "_before_replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_all([(p, p.read_text(), f"new {i}\n") for i, p in enumerate(files)])
    assert _snapshot(tmp_path) == before      # no file changed, no backup, no temp file left


def test_changed_underneath_is_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a")
    b.write_text("b changed by someone else")
    with pytest.raises(FixError, match="changed while"):
        write_all([(a, "a", "A"), (b, "b", "B")])
    assert a.read_text() == "a" and b.read_text() == "b changed by someone else"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_refused_fix_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "full.yaml"
    target.write_text(SEED.read_text().replace("size: 2G}", "size: 1G}"))
    before = _snapshot(tmp_path)
    proc = run_hvcheck("fix", str(target), "--strategy", "relocate", "--write")
    assert proc.returncode == 1
    assert "REFUSED" in proc.stdout
    assert _snapshot(tmp_path) == before


def test_unwritable_directory_writes_nothing(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    target = tmp_path / "seed.yaml"
    shutil.copy(SEED, target)
    tmp_path.chmod(0o555)
    try:
        proc = run_hvcheck("fix", str(target), "--write")
        assert proc.returncode == 1 and "nothing written" in proc.stderr
        assert target.read_bytes() == SEED.read_bytes()
    finally:
        tmp_path.chmod(0o755)
