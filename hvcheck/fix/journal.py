"""The journal of one `fix --write` transaction, and recovery after an interruption.

``.hvcheck-fix-journal`` sits beside the board directory's files (or the layout file). It is
append-only JSON lines, fsynced after each record:

- ``begin``: every file of the fix — target, its temporary new text, its temporary backup, the
  final backup name, and the SHA-256 of the original and of the new content. Nothing is written
  next to a target before this record is on disk, so every temporary file is named here.
- ``commit``: every temporary file is complete and fsynced and every target still holds the
  original. From here on the fix is completed, never abandoned half-way.

The journal is removed when every rename is done. A run that finds a journal recovers first:

- no ``begin`` (killed while writing it): nothing was written; the journal is removed;
- ``begin`` without ``commit``: no target was touched; the temporary files are removed
  (rolled back);
- ``commit``: the remaining renames are made, in the same order (completed). If that cannot be
  done safely (a temporary file is damaged, a target was edited since) the targets already
  replaced are restored from their backups instead (rolled back); if neither is possible nothing
  is changed and the journal stays, with every file's state in the message.

The journal is locked (``flock``) while a transaction or a recovery runs, so a second hvcheck
never "recovers" a fix that is still being written.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvcheck.fix.textedit import FixError

JOURNAL_NAME = ".hvcheck-fix-journal"
TEMP_SUFFIXES = (".hvcheck-new", ".hvcheck-orig")
MAX_JOURNAL_BYTES = 1 << 20
FORMAT_VERSION = 1

# Test hook: called with a step name and its file before each step that changes the file system
# (tests kill or fail the process there; fuzz/fixfault.py does the same with strace).
_fault: Callable[[str, Path], None] | None = None


def step(name: str, path: Path) -> None:
    if _fault is not None:
        _fault(name, path)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    """One file of a transaction; paths are absolute (stored relative to the journal's directory)."""

    target: Path        # the real file (a symlink the user named is resolved)
    named: Path         # the path as the fix named it (may be a symlink)
    tmp_new: Path
    tmp_orig: Path
    backup: Path
    old_sha: str
    new_sha: str

    def to_json(self, base: Path) -> dict[str, str]:
        rel = {k: os.path.relpath(getattr(self, k), base) for k in ("target", "named", "tmp_new", "tmp_orig", "backup")}
        return {**rel, "old_sha256": self.old_sha, "new_sha256": self.new_sha}

    @classmethod
    def from_json(cls, doc: dict[str, Any], base: Path) -> Entry:
        def path(key: str) -> Path:
            value = doc[key]
            if not isinstance(value, str):
                raise ValueError(f"{key} is not a path")
            return Path(os.path.normpath(base / value))

        old, new = doc["old_sha256"], doc["new_sha256"]
        if not (isinstance(old, str) and isinstance(new, str)):
            raise ValueError("checksums are not strings")
        return cls(path("target"), path("named"), path("tmp_new"), path("tmp_orig"), path("backup"), old, new)


def journal_path(directory: Path) -> Path:
    return directory / JOURNAL_NAME


def fsync_dir(directory: Path) -> None:
    """Make renames and unlinks in ``directory`` durable (some filesystems cannot: ignored)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.EROFS):
            raise
    finally:
        os.close(fd)


class Journal:
    """An open, locked journal file (created by a transaction, or opened for recovery)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def create(cls, directory: Path) -> Journal:
        path = journal_path(directory)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        except FileExistsError:
            raise FixError(f"{path}: an interrupted or running fix holds this journal; run "
                           f"`hvcheck fix --recover {directory}` first") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise FixError(f"{path}: another hvcheck fix is writing here") from None
        return cls(path, fd)

    def append(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, sort_keys=True) + "\n").encode()
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
            os.fsync(self.fd)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def remove(self) -> None:
        """Unlink (while still locked), then release."""
        step("journal-remove", self.path)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        fsync_dir(self.path.parent)
        self.close()


# ---------------------------------------------------------------- recovery


@dataclass
class Recovery:
    action: str                 # "completed", "rolled back", "discarded"
    files: list[Path]
    removed_temps: int

    def message(self) -> str:
        names = ", ".join(str(f) for f in self.files)
        if self.action == "completed":
            return (f"an interrupted fix --write was completed: {names} now hold the fixed text "
                    "(backups beside them as .orig)")
        if self.action == "rolled back":
            return (f"an interrupted fix --write was rolled back: {names or 'no file'} hold the original text again; "
                    f"{self.removed_temps} temporary file(s) removed")
        return "an interrupted fix --write had not started writing; its empty journal was removed"


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_records(fd: int, path: Path) -> list[dict[str, Any]]:
    """The complete records (a torn last line from a kill while appending is ignored)."""
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        if sum(len(c) for c in chunks) > MAX_JOURNAL_BYTES:
            raise FixError(f"{path}: not a journal hvcheck wrote (larger than {MAX_JOURNAL_BYTES} bytes); "
                           "inspect and remove it by hand")
    records = []
    for line in b"".join(chunks).split(b"\n")[:-1]:   # the part after the last newline is torn
        try:
            doc = json.loads(line)
        except ValueError:
            raise FixError(f"{path}: damaged journal line; inspect and remove it by hand") from None
        if isinstance(doc, dict):
            records.append(doc)
    return records


def _digest(path: Path) -> str | None:
    """SHA-256 of a regular file's content, None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FixError(f"{path}: cannot read it to recover the interrupted fix: {exc.strerror}") from None


def recover(directory: Path) -> Recovery | None:
    """Complete or roll back the transaction journaled in ``directory``; None if there is none."""
    path = journal_path(directory)
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FixError(f"{path}: cannot open the journal of an interrupted fix: {exc.strerror}") from None
    journal = Journal(path, fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise FixError(f"{path}: another hvcheck fix is writing here right now; wait for it to finish") from None
        if not _same_file(fd, path):   # its holder finished and removed it before we got the lock
            return None
        records = _read_records(fd, path)
        begin = next((r for r in records if r.get("op") == "begin"), None)
        if begin is None:
            journal.remove()
            return Recovery("discarded", [], 0)
        try:
            entries = [Entry.from_json(e, directory) for e in begin["files"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise FixError(f"{path}: damaged journal ({exc}); inspect and remove it by hand") from None
        committed = any(r.get("op") == "commit" for r in records)
        if not committed:
            removed = _remove_temps(entries)
            journal.remove()
            return Recovery("rolled back", [e.target for e in entries], removed)
        problems = _forward_problems(entries)
        if not problems:
            roll_forward(entries)
            journal.remove()
            return Recovery("completed", [e.target for e in entries], 0)
        back = _backward_problems(entries)
        if back:
            raise FixError(f"{path}: the interrupted fix can be neither completed ({'; '.join(problems)}) nor rolled "
                           f"back ({'; '.join(back)}); nothing was changed, the journal is kept: inspect the files")
        removed = roll_back(entries)
        journal.remove()
        return Recovery("rolled back", [e.target for e in entries], removed)
    finally:
        journal.close()


def _remove_temps(entries: list[Entry]) -> int:
    removed = 0
    for e in entries:
        for tmp in (e.tmp_new, e.tmp_orig):
            try:
                step("remove-temp", tmp)
                tmp.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    for d in {e.target.parent for e in entries}:
        fsync_dir(d)
    return removed


def _forward_problems(entries: list[Entry]) -> list[str]:
    """Why the remaining renames cannot be made safely (empty: they can)."""
    out = []
    for e in entries:
        target = _digest(e.target)
        if _digest(e.tmp_new) is not None:
            if _digest(e.tmp_new) != e.new_sha:
                out.append(f"{e.tmp_new} is damaged")
            if target != e.old_sha:
                out.append(f"{e.target} was changed since the fix began")
        elif target != e.new_sha:
            out.append(f"{e.target} holds neither the original nor the fixed text")
        orig = _digest(e.tmp_orig)
        if orig is not None:
            if orig != e.old_sha:
                out.append(f"{e.tmp_orig} is damaged")
            if e.backup.exists() and _digest(e.backup) != e.old_sha:
                out.append(f"{e.backup} appeared since the fix began")
        elif _digest(e.backup) != e.old_sha:
            out.append(f"the backup {e.backup} is missing or damaged")
    return out


def _backward_problems(entries: list[Entry]) -> list[str]:
    out = []
    for e in entries:
        target = _digest(e.target)
        if target == e.old_sha:
            continue
        if target != e.new_sha:
            out.append(f"{e.target} holds neither the original nor the fixed text")
        elif e.old_sha not in (_digest(e.backup), _digest(e.tmp_orig)):
            out.append(f"no intact copy of the original {e.target} is left")
    return out


def roll_forward(entries: list[Entry]) -> None:
    """The renames of the commit phase, in order, skipping those already made (idempotent)."""
    for e in entries:
        if e.tmp_orig.exists():
            step("rename-backup", e.backup)
            if e.backup.exists():
                if _digest(e.backup) != e.old_sha:
                    raise FixError(f"{e.backup} appeared while the fix was being written")
                e.tmp_orig.unlink()        # an identical backup is already in place
            else:
                os.replace(e.tmp_orig, e.backup)
        if e.tmp_new.exists():
            step("rename-target", e.target)
            os.replace(e.tmp_new, e.target)
    for d in {e.target.parent for e in entries}:
        fsync_dir(d)


def roll_back(entries: list[Entry]) -> int:
    """Restore every replaced target from its backup; remove every file the transaction made."""
    for e in reversed(entries):
        if _digest(e.target) != e.old_sha:
            source = e.backup if _digest(e.backup) == e.old_sha else e.tmp_orig
            step("restore-target", e.target)
            os.replace(source, e.target)
        elif _digest(e.backup) == e.old_sha and e.backup.exists():
            step("remove-backup", e.backup)
            e.backup.unlink()              # made by this transaction: its name was free at begin
    return _remove_temps(entries)
