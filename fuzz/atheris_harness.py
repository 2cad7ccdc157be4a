"""Coverage-guided fuzzing of one reader with atheris (libFuzzer for Python).

    python -m fuzz.atheris_harness layout-yaml -runs=2000          # bounded (CI uses this form)
    python -m fuzz.atheris_harness dts -max_total_time=3600        # a long run

The corpus starts from the target's valid fixtures (copied to fuzz/corpus/<target>/, which
libFuzzer then grows). A violation of the invariant (see fuzz.runner) raises, so libFuzzer stops
and writes the input as crash-<sha1> in the current directory: add it to
tests/fuzz_regressions/<target>/ once fixed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["hvcheck"]):
    import hvcheck.cli  # noqa: F401  (instrumented: its coverage guides the fuzzer)

from fuzz.runner import Workspace, run_one  # noqa: E402
from fuzz.targets import ROOT, by_name  # noqa: E402


class InvariantViolated(Exception):
    pass


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python -m fuzz.atheris_harness TARGET [libFuzzer options]")
    target = by_name(sys.argv[1])
    seeds = target.seed_files()
    if not seeds:
        sys.exit(f"{target.name}: no fixtures to start from")
    # HVCHECK_FUZZ_CORPUS gives a fresh directory (the CI test does, so its runs are repeatable).
    corpus = Path(os.environ.get("HVCHECK_FUZZ_CORPUS") or ROOT / "fuzz" / "corpus" / target.name)
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        shutil.copy(seed, corpus / seed.name)
    scratch = Path(tempfile.mkdtemp(prefix="hvcheck-atheris-"))
    workspace = Workspace(target, seeds[0], scratch)

    def test_one_input(data: bytes) -> None:
        workspace.write(data)
        outcome = run_one(workspace.argv(), per_input=10.0)
        if not outcome.ok:
            raise InvariantViolated(outcome.what)

    atheris.Setup([sys.argv[0], *sys.argv[2:], str(corpus)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
