"""hvisor trees (issue 3): `hvcheck layout <checkout> --all`, whole process, goal ≤ 2 s.

The checkout is $HVISOR_CHECKOUT, else /tmp/hvisor (a clone of github syswonder/hvisor, never
committed), else our fixture tree tests/fixtures/hvisor/repo; the section title says which.
Anchors from the same run: `python3 -c pass` (interpreter start-up) and `dtc` compiling every
device tree of the checkout that it can compile (what a user would run to validate the DTS).
With $HVCHECK_BENCH_BASELINE set to a git revision of this repository, the same command run by that
revision's code (extracted with `git archive`) is measured in the same run too: before/after figures
for a change, free of this shared machine's drift between runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.harness import PYTHON, ROOT, Row, Section, Timing, hvcheck_argv, time_callable, time_command

FIXTURE = ROOT / "tests" / "fixtures" / "hvisor" / "repo"


def _checkout() -> tuple[Path, str]:
    for cand, what in ((os.environ.get("HVISOR_CHECKOUT"), "$HVISOR_CHECKOUT"), ("/tmp/hvisor", "/tmp/hvisor")):
        if cand and (Path(cand) / "platform").is_dir():
            rev = subprocess.run(["git", "-C", cand, "log", "-1", "--format=%h %cs"], capture_output=True,
                                 text=True).stdout.strip()
            return Path(cand), f"hvisor checkout {what} ({rev or 'unknown commit'})"
    return FIXTURE, "fixture tree tests/fixtures/hvisor/repo (no hvisor checkout found)"


def _cpu_seconds(argv: list[str], repeat: int) -> Timing:
    samples = []
    for _ in range(repeat):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        samples.append(usage.ru_utime + usage.ru_stime)
    return Timing(samples)


def _baseline(repo: Path) -> tuple[str, Timing] | None:
    rev = os.environ.get("HVCHECK_BENCH_BASELINE")
    if not rev:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "hvcheck"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        code = f"import sys; sys.path.insert(0, {tmp!r}); from hvcheck.cli import main; sys.argv[0] = 'hvcheck'; main()"
        timing = time_command([PYTHON, "-c", code, "layout", str(repo), "--all"], repeat=7)
    short = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", rev], capture_output=True,
                           text=True).stdout.strip()
    return short or rev, timing


def run() -> list[Section]:
    repo, what = _checkout()
    section = Section(f"hvisor: `hvcheck layout <checkout> --all` on the {what}")
    from hvcheck.layout.loaders.hvisor import discover_boards, load_hvisor_board

    boards = discover_boards(repo)
    baseline = time_command([PYTHON, "-c", "pass"], repeat=7)
    whole = time_command(hvcheck_argv("layout", str(repo), "--all"), repeat=7)
    section.rows.append(Row(f"hvcheck layout --all ({len(boards)} boards)", whole, "≤ 2 s",
                            "yes" if whole.median <= 2.0 else "NO", "python3 -c pass", baseline))
    before = _baseline(repo)
    if before is not None:
        rev, timing = before
        section.rows.append(Row(f"same command at {rev} (the baseline)", timing, "not faster than this code",
                                "yes" if whole.median <= timing.median * 1.05 else "NO",
                                "this code (row above)", whole))
    cpu = _cpu_seconds(hvcheck_argv("layout", str(repo), "--all"), repeat=5)
    section.rows.append(Row("same command: CPU time (user + sys) of the process", cpu,
                            note="independent of other load on this shared machine; wall time above "
                                 "includes waiting for a core"))
    one = boards[0]
    single = time_command(hvcheck_argv("layout", str(one.path)), repeat=7)
    section.rows.append(Row(f"hvcheck layout {one.name} (one board)", single, "", "", "python3 -c pass", baseline))

    def load_all() -> None:
        for ref in boards:
            try:
                load_hvisor_board(ref.path, repo_root=repo)
            except Exception:  # noqa: BLE001 - a broken board still costs its parse
                pass

    loads = time_callable(load_all, repeat=5)
    section.rows.append(Row(f"in-process: load every board ({len(boards)}), model only", loads))
    dtc = shutil.which("dtc")
    if dtc:
        sources = sorted(repo.glob("platform/*/*/image/**/*.dts"))
        ok = [s for s in sources if subprocess.run([dtc, "-q", "-I", "dts", "-O", "dtb", "-o", os.devnull, str(s)],
                                                    capture_output=True).returncode == 0]

        def compile_all() -> None:
            for s in ok:
                subprocess.run([dtc, "-q", "-I", "dts", "-O", "dtb", "-o", os.devnull, str(s)], capture_output=True)

        dtc_time = time_callable(compile_all, repeat=5)
        section.rows.append(Row(f"anchor: dtc on the {len(ok)} of {len(sources)} device trees it can compile",
                                dtc_time, note="hvcheck reads all of them, including those dtc rejects "
                                               "(missing #include headers)"))
    section.notes.append("load cost is dominated by interpreter and tree-sitter start-up; shared files "
                         "(src/consts.rs, src/config.rs) are parsed once per process")
    return [section]


if __name__ == "__main__":  # pragma: no cover
    for s in run():
        print(s.title)
        for r in s.rows:
            print(" ", r.what, r.timing.cell() if isinstance(r.timing, Timing) else "", r.goal, r.verdict,
                  r.anchor, r.anchor_timing.cell() if r.anchor_timing else "", r.note)
