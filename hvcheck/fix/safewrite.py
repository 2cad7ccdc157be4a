"""All-or-nothing writes of several files.

1. stage: every new text goes to a temporary file next to its target (same filesystem, so the
   final rename is atomic), is flushed, fsynced and read back;
2. check: every target still has the text the edits were computed from (nobody changed it
   meanwhile);
3. back up each target to ``<name>.orig``, then ``os.replace`` the staged files over the
   targets. If anything fails before the last replace, the targets already replaced are put
   back from their backups and every temporary file is removed: either all files change or none.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hvcheck.fix.textedit import FixError

# Test hook: called with the index of the file about to be replaced (to simulate a crash).
_before_replace: Callable[[int, Path], None] | None = None


def write_all(changes: list[tuple[Path, str, str]]) -> list[Path]:
    """``changes``: (path, expected current text, new text). Returns the backups written."""
    staged: list[tuple[Path, Path]] = []
    backups: list[Path] = []
    replaced: list[tuple[Path, Path]] = []   # (target, backup)
    try:
        for path, _, new in changes:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".hvcheck-tmp")
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(new)
                fh.flush()
                os.fsync(fh.fileno())
            shutil.copymode(path, tmp)
            if Path(tmp).read_text(encoding="utf-8") != new:
                raise FixError(f"{path}: staged copy does not read back identically")
            staged.append((path, Path(tmp)))
        for path, old, _ in changes:
            if path.read_text(encoding="utf-8") != old:
                raise FixError(f"{path} changed while the fix was computed; nothing was written, run fix again")
        for i, (path, tmp) in enumerate(staged):
            backup = _backup_name(path)
            if _before_replace is not None:
                _before_replace(i, path)
            shutil.copy2(path, backup)
            backups.append(backup)
            os.replace(tmp, path)
            replaced.append((path, backup))
    except BaseException:
        for path, backup in reversed(replaced):
            os.replace(backup, path)   # the backup is the original text
        for _, tmp in staged:
            if tmp.exists():
                tmp.unlink()
        for b in backups:
            if b.exists() and all(b != bk for _, bk in replaced):
                b.unlink()
        raise
    return backups


def _backup_name(path: Path) -> Path:
    """``name.orig``, or ``name.orig.N`` when an earlier backup exists (never overwrite one)."""
    backup = path.with_name(path.name + ".orig")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.orig.{n}")
        n += 1
    return backup
