"""A fix as SARIF: one `fix` object whose artifactChanges are every file of the transaction, each
edit a replacement of a character range (SARIF 2.1.0 §3.55–3.57)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hvcheck.fix.engine import FixResult


def _artifact(path: Path, root: Path | None) -> dict[str, Any]:
    if root is not None:
        rel = os.path.relpath(path.resolve(), root.resolve())
        if not rel.startswith(".."):
            return {"uri": rel.replace(os.sep, "/"), "uriBaseId": "SRCROOT"}
    return {"uri": path.resolve().as_uri()}


def sarif_fix(result: FixResult, root: Path | None) -> dict[str, Any]:
    changes = []
    for f in result.changed_files:
        replacements = [{"deletedRegion": {"charOffset": e.start, "charLength": e.end - e.start},
                         "insertedContent": {"text": e.new}}
                        for e in sorted(f.edits, key=lambda e: (e.start, e.end))]
        changes.append({"artifactLocation": _artifact(f.path, root), "replacements": replacements})
    description = "; ".join(result.explanations()) or f"hvcheck fix --strategy {result.strategy}"
    return {"description": {"text": f"hvcheck fix --strategy {result.strategy}: {description}"[:4000]},
            "artifactChanges": changes}
