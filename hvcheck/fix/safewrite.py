"""`fix --write`: all files of one fix change, or none — also across a kill, a full disk or a
power cut (with the journal of :mod:`hvcheck.fix.journal`).

1. check (nothing written): each target is a regular file (a symlink is followed to its real
   file, and the report says so), still holds the text the edits were computed from, and is
   writable (a read-only target is refused unless ``force``);
2. journal ``begin``: every file name the transaction will create, fsynced before any exists;
3. stage: next to each target (same filesystem, so renames are atomic) the new text and a copy
   of the original are written to temporary files, with the original's mode, fsynced and read
   back; targets are compared with what was read once more;
4. journal ``commit``, then, in a fixed order and with Ctrl-C deferred: temporary copy →
   ``NAME.orig`` (``NAME.orig.N`` when a backup exists: never overwritten, never empty), new
   text → ``NAME``; the journal is removed.

Any failure before ``commit`` removes every temporary file; any failure after it restores every
target from its backup. A kill leaves the journal, and the next `hvcheck fix` (or `hvcheck fix
--recover`) completes or rolls back the fix and says which.
"""

from __future__ import annotations

import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.fix import journal as jn
from hvcheck.fix.textedit import MAX_EDIT_BYTES, FixError
from hvcheck.inputs import read_capped

DEFERRED_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)      # the real files replaced
    backups: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)        # symlinks followed, read-only files forced


@dataclass
class _Target:
    named: Path
    real: Path
    st: os.stat_result
    raw: bytes
    new: bytes


def write_all(changes: list[tuple[Path, str, str]], journal_dir: Path | None = None, *,
              force: bool = False) -> Written:
    """``changes``: (path, text the edits were computed from, new text). ``journal_dir``: where
    the journal goes (the board directory or the layout file's; default: the first file's)."""
    if not changes:
        return Written()
    directory = journal_dir if journal_dir is not None else changes[0][0].parent
    out = Written()
    targets = [_check(path, old, new, force, out.notes) for path, old, new in changes]
    reals = [t.real for t in targets]
    if len(set(reals)) != len(reals):
        raise FixError("internal: two edited files are the same file (a symlink to another edited file)")
    txid = secrets.token_hex(4)
    taken: set[Path] = set()
    entries = []
    for t in targets:
        backup = _backup_name(t.real, taken)
        taken.add(backup)
        entries.append(jn.Entry(t.real, t.named, _temp(t.real, txid, ".hvcheck-new"),
                                _temp(t.real, txid, ".hvcheck-orig"), backup, jn.sha256(t.raw), jn.sha256(t.new)))
    try:
        journal = jn.Journal.create(directory)
    except OSError as exc:
        raise _write_error(exc, jn.journal_path(directory)) from None
    committed = False
    try:
        jn.step("journal-begin", journal.path)
        journal.append({"op": "begin", "version": jn.FORMAT_VERSION, "txid": txid, "pid": os.getpid(),
                        "files": [e.to_json(directory) for e in entries]})
        jn.fsync_dir(directory)
        for t, e in zip(targets, entries, strict=True):
            _write_temp(e.tmp_new, t.new, t.st, keep_times=False)
            _write_temp(e.tmp_orig, t.raw, t.st, keep_times=True)
        for d in {e.target.parent for e in entries}:
            jn.fsync_dir(d)
        for t in targets:
            if _read(t.real) != t.raw:
                raise FixError(f"{t.named} changed while the fix was computed; nothing was written, run fix again")
        jn.step("journal-commit", journal.path)
        journal.append({"op": "commit"})
        committed = True
        with _signals_deferred():
            jn.roll_forward(entries)
            journal.remove()
    except BaseException as exc:
        _undo(journal, entries, committed, exc)
        if isinstance(exc, OSError):
            raise _write_error(exc, directory) from None
        raise
    out.files = [e.target for e in entries]
    out.backups = [e.backup for e in entries]
    return out


def _undo(journal: jn.Journal, entries: list[jn.Entry], committed: bool, cause: BaseException) -> None:
    """Put everything back as it was (the journal goes last: if this fails, recovery can finish)."""
    try:
        with _signals_deferred():
            if committed:
                jn.roll_back(entries)
            else:
                jn._remove_temps(entries)
            journal.remove()
    except BaseException as exc:
        journal.close()
        raise FixError(f"the write failed ({cause}) and undoing it failed too ({exc}); the journal "
                       f"{journal.path} is kept: run `hvcheck fix --recover {journal.path.parent}`") from None


def _check(path: Path, old: str, new: str, force: bool, notes: list[str]) -> _Target:
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:   # RuntimeError: a symlink loop
        raise InputError(str(path), f"cannot resolve the file to write: {exc}") from None
    if path.is_symlink():
        notes.append(f"{path} is a symlink: edited the file it points to, {real}")
    try:
        st = os.stat(real)
    except OSError as exc:
        raise InputError(str(path), f"cannot write: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise FixError(f"{path}: not a regular file; nothing written")
    raw = read_capped(real, MAX_EDIT_BYTES, "files fix edits")
    try:
        current = raw.decode("utf-8")
    except UnicodeDecodeError:
        current = None
    if current != old:
        raise FixError(f"{path} changed while the fix was computed; nothing was written, run fix again")
    read_only = not (st.st_mode & 0o222) or not os.access(real, os.W_OK)
    if read_only:
        mode = f"{stat.S_IMODE(st.st_mode):04o}"
        if not force:
            raise FixError(f"{real} is read-only (mode {mode}); nothing written. Pass --force to replace it anyway "
                           "(the fixed file keeps the same mode)")
        notes.append(f"{real} was read-only (mode {mode}); replaced because of --force, mode kept")
    return _Target(path, real, st, raw, new.encode("utf-8"))


def _temp(real: Path, txid: str, suffix: str) -> Path:
    return real.with_name(f".{real.name}.{txid}{suffix}")


def _backup_name(real: Path, taken: set[Path]) -> Path:
    """``name.orig``, or ``name.orig.N`` when an earlier backup exists (never overwrite one)."""
    backup = real.with_name(real.name + ".orig")
    n = 1
    while backup in taken or os.path.lexists(backup):
        backup = real.with_name(f"{real.name}.orig.{n}")
        n += 1
    return backup


def _write_temp(path: Path, data: bytes, st: os.stat_result, *, keep_times: bool) -> None:
    """A complete, fsynced file with the original's mode (and owner, when we may set it)."""
    jn.step("create", path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise _named(exc, path) from None
    try:
        jn.step("write", path)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
            os.fchown(fd, st.st_uid, st.st_gid)
        jn.step("fsync", path)
        os.fsync(fd)
    except OSError as exc:
        raise _named(exc, path) from None
    finally:
        os.close(fd)
    if keep_times:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    if _read(path) != data:
        raise FixError(f"{path}: the staged copy does not read back identically; nothing was written")


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_EDIT_BYTES + 1)
    except OSError as exc:
        raise _named(exc, path) from None


def _named(exc: OSError, path: Path) -> OSError:
    return OSError(exc.errno, exc.strerror, str(path)) if exc.filename is None else exc


def _write_error(exc: OSError, fallback: Path) -> InputError:
    where = exc.filename if isinstance(exc.filename, str) else str(fallback)
    return InputError(where, f"cannot write: {exc.strerror or exc}; nothing was written")


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C, SIGTERM and hang-ups wait until the renames are done (a few milliseconds)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, DEFERRED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
