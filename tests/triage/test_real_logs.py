"""Real crash logs from public trackers and mailing lists (tests/fixtures/triage/real/): every log is
recognised in its format, with the architecture the log proves (or 'unknown'), the rule it deserves and
every fact written down by hand from the thread before hvcheck was run (expected.yaml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from real_logs import manifest, run

ENTRIES = manifest()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_real_log(entry) -> None:
    out = run(entry)
    assert not out.problems, "\n".join(out.problems)


def test_corpus_is_large_and_varied() -> None:
    assert len(ENTRIES) >= 40
    readers = {e["expect"]["reader"] for e in ENTRIES}
    assert {"linux-x86", "linux-arm", "linux-riscv", "kvm", "xen", "jailhouse", "bao", "opensbi", "rustsbi",
            "edk2", "acrn", "sel4", "hvisor", "qemu-trace"} <= readers
    assert {e["expect"]["arch"] for e in ENTRIES} >= {"aarch64", "arm", "riscv64", "x86_64", "unknown"}
    assert all(e["url"].startswith("https://") for e in ENTRIES)


LAYOUT_ENTRIES = [e for e in ENTRIES if "layout" in e]


@pytest.mark.parametrize("entry", LAYOUT_ENTRIES, ids=[e["id"] for e in LAYOUT_ENTRIES])
def test_real_log_with_its_layout(entry) -> None:
    from real_logs import REAL

    from hvcheck.triage.context import load_context

    out = run(entry, load_context(layout=str(REAL / entry["layout"]["file"])))
    assert entry["layout"]["rule"] in {f.rule for f in out.findings}, [f.message for f in out.findings]


def test_the_report_page_shows_what_the_tool_does() -> None:
    """docs/triage-real-logs.md's table is regenerated from this corpus, never edited by hand."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(root / "scripts" / "triage_real_logs.py"), "--check"],
                          capture_output=True, text=True, cwd=root, timeout=600)
    assert done.returncode == 0, done.stderr
