"""--write as a transaction: all files or none, across exceptions, kills and recovery; backups
complete and never overwritten; read-only files, symlinks and CRLF files handled."""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import signal
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hvcheck.fix import journal as jn
from hvcheck.fix.engine import run_fix
from hvcheck.fix.journal import JOURNAL_NAME, recover
from hvcheck.fix.safewrite import write_all
from hvcheck.fix.textedit import FixError
from tests.conftest import FIXTURES, ROOT, run_hvcheck

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
HVREPO = FIXTURES / "fix" / "hvrepo"


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _three_files(tmp_path: Path) -> list[tuple[Path, str, str]]:
    changes = []
    for i in range(3):
        sub = tmp_path / f"d{i}"
        sub.mkdir()
        p = sub / f"f{i}.dts"
        p.write_text(f"original {i}\n")
        changes.append((p, f"original {i}\n", f"new {i}\n"))
    return changes


def _steps(changes: list[tuple[Path, str, str]], tmp_path: Path) -> list[tuple[str, Path]]:
    """Every fault-injection step of one uninterrupted write, in order."""
    seen: list[tuple[str, Path]] = []
    jn._fault = lambda step, path: seen.append((step, path))
    try:
        write_all(changes, tmp_path)
    finally:
        jn._fault = None
    for p, old, _ in changes:            # back to the original state, no backups
        p.write_text(old)
        p.with_name(p.name + ".orig").unlink()
    return seen


def test_write_applies_and_backs_up(tmp_path: Path) -> None:
    target = tmp_path / "seed.yaml"
    shutil.copy(SEED, target)
    expected = run_fix(target, "punch").changed_files[0].result()
    proc = run_hvcheck("fix", str(target), "--strategy", "punch", "--write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert target.read_text() == expected
    assert (tmp_path / "seed.yaml.orig").read_bytes() == SEED.read_bytes()
    assert "written:" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed.yaml", "seed.yaml.orig"]   # no temp, no journal
    # idempotent: a second --write has nothing to do and touches nothing
    before = _snapshot(tmp_path)
    again = run_hvcheck("fix", str(target), "--strategy", "punch", "--write")
    assert again.returncode == 0 and "nothing to change" in again.stdout
    assert _snapshot(tmp_path) == before


def test_backup_never_overwritten(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    a.write_text("one")
    (tmp_path / "a.txt.orig").write_text("older backup")
    done = write_all([(a, "one", "two")], tmp_path)
    assert done.backups == [tmp_path / "a.txt.orig.1"]
    assert (tmp_path / "a.txt.orig").read_text() == "older backup"
    assert (tmp_path / "a.txt.orig.1").read_text() == "one"
    assert a.read_text() == "two"


def test_new_file_keeps_mode_and_backup_keeps_times(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    a.write_text("one")
    a.chmod(0o640)
    os.utime(a, ns=(1_000_000_000, 2_000_000_000))
    write_all([(a, "one", "two")], tmp_path)
    assert stat.S_IMODE(a.stat().st_mode) == 0o640
    backup = tmp_path / "a.txt.orig"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o640 and backup.stat().st_mtime_ns == 2_000_000_000


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("boom"), OSError(errno.ENOSPC, "No space left")],
                         ids=["ctrl-c", "exception", "enospc"])
def test_failure_at_every_step_leaves_every_file_untouched(tmp_path: Path, error: BaseException) -> None:
    changes = _three_files(tmp_path)
    steps = _steps(changes, tmp_path)
    assert [s for s, _ in steps].count("rename-target") == 3 and len(steps) >= 20
    before = _snapshot(tmp_path)
    for k in range(len(steps)):
        calls = itertools.count()

        def fail(step: str, path: Path, k: int = k, calls: Iterator[int] = calls) -> None:
            if next(calls) == k:
                raise error

        jn._fault = fail
        try:
            with pytest.raises(KeyboardInterrupt if isinstance(error, KeyboardInterrupt) else Exception):
                write_all(changes, tmp_path)
        finally:
            jn._fault = None
        assert _snapshot(tmp_path) == before, f"step {k} {steps[k]}: files changed, or temporary files left"


def _kill_at(k: int, work: Callable[[], object]) -> bool:
    """Run ``work`` in a forked child that SIGKILLs itself at fault step ``k``; False when it
    finished before reaching that step."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies or exits
        n = itertools.count()

        def die(step: str, path: Path) -> None:
            if next(n) == k:
                os.kill(os.getpid(), signal.SIGKILL)

        jn._fault = die
        try:
            work()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_kill_at_every_step_then_recovery_is_all_or_nothing(tmp_path: Path) -> None:
    changes = _three_files(tmp_path)
    steps = _steps(changes, tmp_path)
    before = _snapshot(tmp_path)
    write_all(changes, tmp_path)
    after = _snapshot(tmp_path)
    for p, old, _ in changes:
        p.write_text(old)
        p.with_name(p.name + ".orig").unlink()
    outcomes = set()
    for k in range(len(steps)):
        assert _kill_at(k, lambda: write_all(changes, tmp_path))
        state = _snapshot(tmp_path)
        for name, data in state.items():       # file by file, right after the kill
            if name in before:
                assert data in (before[name], after[name]), f"step {k}: {name} is neither original nor fixed"
            elif name.endswith(".orig"):
                assert data == after[name], f"step {k}: incomplete backup {name}"
            else:
                assert name == JOURNAL_NAME or ".hvcheck-" in name, name
                assert JOURNAL_NAME in state, f"step {k}: {name} left without a journal"
        done = recover(tmp_path)
        settled = _snapshot(tmp_path)
        assert settled in (before, after), f"step {k} ({steps[k]}): half-applied after recovery"
        outcomes.add((done.action if done else None, "fixed" if settled == after else "original"))
        if settled == after:
            for p, old, _ in changes:
                p.write_text(old)
                p.with_name(p.name + ".orig").unlink()
    # killed before the begin record (discarded), while staging (rolled back), after commit (completed)
    assert outcomes == {("discarded", "original"), ("rolled back", "original"), ("completed", "fixed")}


def test_kill_during_recovery_then_recover_again(tmp_path: Path) -> None:
    changes = _three_files(tmp_path)
    write_all(changes, tmp_path)
    after = _snapshot(tmp_path)
    for p, old, _ in changes:
        p.write_text(old)
        p.with_name(p.name + ".orig").unlink()
    steps = _steps(changes, tmp_path)
    first_rename = next(i for i, (s, _) in enumerate(steps) if s == "rename-target")
    assert _kill_at(first_rename + 1, lambda: write_all(changes, tmp_path))    # 1 of 3 files replaced
    interrupted = _snapshot(tmp_path)
    killed = 0
    for k in range(40):                    # recovery's own steps, killed one by one
        for name in set(_snapshot(tmp_path)) - set(interrupted):
            (tmp_path / name).unlink()
        for name, data in interrupted.items():
            (tmp_path / name).write_bytes(data)
        if not _kill_at(k, lambda: recover(tmp_path)):
            break                          # recovery has fewer steps than k
        killed += 1
        done = recover(tmp_path)
        assert done is not None and done.action == "completed", k
        assert _snapshot(tmp_path) == after, f"recovery killed at its step {k}, then recovered: not the fixed state"
    assert killed >= 5


def test_torn_journal_and_damaged_temp(tmp_path: Path) -> None:
    changes = _three_files(tmp_path)
    before = _snapshot(tmp_path)
    steps = _steps(changes, tmp_path)
    commit = next(i for i, (s, _) in enumerate(steps) if s == "journal-commit")
    # killed while appending the commit record: a torn last line counts as not written
    assert _kill_at(commit, lambda: write_all(changes, tmp_path))
    with open(tmp_path / JOURNAL_NAME, "a") as fh:
        fh.write('{"op": "comm')
    done = recover(tmp_path)
    assert done is not None and done.action == "rolled back"
    assert _snapshot(tmp_path) == before
    # committed, but a temporary new file was damaged since: roll back from the backups instead
    assert _kill_at(commit + 3, lambda: write_all(changes, tmp_path))
    temp = next(p for p in tmp_path.rglob("*.hvcheck-new"))
    temp.write_text("garbage")
    done = recover(tmp_path)
    assert done is not None and done.action == "rolled back"
    assert _snapshot(tmp_path) == before


def test_recovery_refuses_when_a_target_was_edited_since(tmp_path: Path) -> None:
    changes = _three_files(tmp_path)
    steps = _steps(changes, tmp_path)
    commit = next(i for i, (s, _) in enumerate(steps) if s == "journal-commit")
    assert _kill_at(commit + 3, lambda: write_all(changes, tmp_path))    # first target replaced
    changes[2][0].write_text("edited by hand after the crash\n")
    changes[0][0].write_text("edited too\n")
    state = _snapshot(tmp_path)
    with pytest.raises(FixError, match="neither completed .* nor rolled back"):
        recover(tmp_path)
    assert _snapshot(tmp_path) == state          # nothing touched, journal kept


def test_cli_recovers_first_and_says_which(tmp_path: Path) -> None:
    target = tmp_path / "seed.yaml"
    shutil.copy(SEED, target)
    result = run_fix(target, "punch")
    changes = [(f.path, f.original, f.result()) for f in result.changed_files]
    steps = _steps(changes, tmp_path)
    rename = next(i for i, (s, _) in enumerate(steps) if s == "rename-target")
    assert _kill_at(rename, lambda: write_all(changes, tmp_path))        # committed, target not yet replaced
    assert (tmp_path / JOURNAL_NAME).exists()
    proc = run_hvcheck("fix", "--recover", str(target))
    assert proc.returncode == 0 and "was completed" in proc.stdout, proc.stdout + proc.stderr
    assert target.read_text() == result.changed_files[0].result()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed.yaml", "seed.yaml.orig"]
    # the next plain run finds nothing pending and nothing to change
    proc = run_hvcheck("fix", str(target), "--strategy", "punch")
    assert "nothing to change" in proc.stdout and "interrupted" not in proc.stdout
    # a staging-time kill is rolled back by the next ordinary run, which says so
    shutil.copy(SEED, target)
    (tmp_path / "seed.yaml.orig").unlink()
    assert _kill_at(2, lambda: write_all(changes, tmp_path))
    proc = run_hvcheck("fix", str(target), "--strategy", "punch")
    assert "note: an interrupted fix --write was rolled back" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed.yaml"]


def test_interrupted_kill_no_journal_left_means_nothing_pending(tmp_path: Path) -> None:
    proc = run_hvcheck("fix", "--recover", str(tmp_path / "absent.yaml"))
    assert proc.returncode == 0 and "no interrupted fix" in proc.stdout


def test_changed_underneath_is_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a")
    b.write_text("b changed by someone else")
    with pytest.raises(FixError, match="changed while"):
        write_all([(a, "a", "A"), (b, "b", "B")], tmp_path)
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


def test_read_only_target_refused_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "seed.yaml"
    shutil.copy(SEED, target)
    target.chmod(0o444)
    proc = run_hvcheck("fix", str(target), "--strategy", "punch", "--write")
    assert proc.returncode == 1 and "read-only (mode 0444)" in proc.stderr and "--force" in proc.stderr
    assert target.read_bytes() == SEED.read_bytes() and sorted(p.name for p in tmp_path.iterdir()) == ["seed.yaml"]
    proc = run_hvcheck("fix", str(target), "--strategy", "punch", "--write", "--force")
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() != SEED.read_bytes() and stat.S_IMODE(target.stat().st_mode) == 0o444
    assert "was read-only (mode 0444); replaced because of --force" in proc.stdout


def test_symlinked_target_edits_the_real_file(tmp_path: Path) -> None:
    board = tmp_path / "hv" / "platform" / "aarch64" / "slice"
    shutil.copytree(HVREPO, tmp_path / "hv")
    shared = tmp_path / "shared-board.rs"
    (board / "board.rs").rename(shared)
    (board / "board.rs").symlink_to(os.path.relpath(shared, board))
    original = shared.read_bytes()
    proc = run_hvcheck("fix", str(board), "--write")
    assert proc.returncode in (0, 1) and "internal" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "written:" in proc.stdout
    assert f"board.rs is a symlink: edited the file it points to, {shared}" in proc.stdout
    assert (board / "board.rs").is_symlink() and shared.read_bytes() != original
    assert (tmp_path / "shared-board.rs.orig").read_bytes() == original


def test_crlf_files_are_fixed_and_stay_crlf(tmp_path: Path) -> None:
    shutil.copytree(HVREPO, tmp_path / "hv")
    board = tmp_path / "hv" / "platform" / "aarch64" / "slice"
    lf_result = run_fix(board, "all")
    crlf_files = [f.path for f in lf_result.changed_files]
    for p in crlf_files:
        p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    proc = run_hvcheck("fix", str(board), "--write")
    assert proc.returncode in (0, 1) and "written:" in proc.stdout, proc.stdout + proc.stderr
    for f in lf_result.changed_files:
        data = f.path.read_bytes()
        assert data.count(b"\n") == data.count(b"\r\n") > 0, f"{f.path}: mixed line ends"
        assert data.replace(b"\r\n", b"\n") == f.result().encode(), f"{f.path}: not the same fix as the LF file"


def test_file_size_limit_is_a_clean_error(tmp_path: Path) -> None:
    import resource
    import subprocess
    import sys

    target = tmp_path / "seed.yaml"
    shutil.copy(SEED, target)
    size = SEED.stat().st_size // 2

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    proc = subprocess.run([sys.executable, "-m", "hvcheck", "fix", str(target), "--write"], capture_output=True,
                          text=True, preexec_fn=limit, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and "File too large" in proc.stderr
    assert "internal" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed.yaml"] and target.read_bytes() == SEED.read_bytes()


def test_journal_of_a_running_fix_is_not_recovered(tmp_path: Path) -> None:
    journal = jn.Journal.create(tmp_path)      # held (locked) as by a fix that is still writing
    try:
        journal.append({"op": "begin", "files": []})
        with pytest.raises(FixError, match="another hvcheck fix is writing"):
            recover(tmp_path)
        assert (tmp_path / JOURNAL_NAME).exists()
    finally:
        journal.remove()
