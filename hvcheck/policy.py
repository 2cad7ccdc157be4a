"""What a run reports, after its checks: the project configuration (select/ignore, per-path and
per-board ignores), inline suppression comments, and a baseline of accepted findings. Every
finding gets its stable fingerprint; suppressed findings are kept (with why) so reports can count
and list them, but they never decide the exit code.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.baseline import assign_fingerprints, read_baseline, write_baseline
from hvcheck.config import Config, config_for
from hvcheck.findings import Finding, Location, Suppression
from hvcheck.suppress import MAX_SCANNED_BYTES, SuppressionIndex


@dataclass
class RunOptions:
    """The options every subcommand takes for adoption in CI (see hvcheck.cli.common_options)."""

    config: Path | None = None
    baseline: str | None = None
    write_baseline: str | None = None
    show_suppressed: bool = False
    root: Path | None = None          # --sarif-root / --root: base of relative paths
    color: str = "auto"


@dataclass
class Outcome:
    findings: list[Finding]                    # everything the run produced (suppressed ones flagged)
    root: Path
    config: Config
    baseline_path: str | None = None
    baseline_gone: int = 0                     # baselined findings no longer produced
    wrote_baseline: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def reported(self) -> list[Finding]:
        return [f for f in self.findings if f.suppressed is None]

    @property
    def suppressed(self) -> list[Finding]:
        return [f for f in self.findings if f.suppressed is not None]


def project_root(inputs: list[str] | None, explicit: Path | None) -> Path:
    """Base for relative paths (SARIF, fingerprints, config globs): --root, else the git top level
    above the first input, else the current directory."""
    if explicit is not None:
        return explicit.absolute()
    start = Path(inputs[0]).absolute() if inputs else Path.cwd()
    for directory in [start, *start.parents]:
        if (directory / ".git").exists():
            return directory
    return Path.cwd()


def _scan_files(findings: list[Finding]) -> SuppressionIndex:
    from hvcheck.inputs import files_read, read_cited

    index = SuppressionIndex()
    paths = dict.fromkeys(files_read())
    for f in findings:
        for loc in f.locations:
            if loc.path is not None:
                paths.setdefault(loc.path)
    for path in paths:
        try:
            if os.path.getsize(path) > MAX_SCANNED_BYTES:
                continue
        except OSError:
            continue
        raw = read_cited(path, MAX_SCANNED_BYTES)
        if raw is not None:
            index.scan(path, raw)
    return index


def process(findings: list[Finding], inputs: list[str] | None, options: RunOptions) -> Outcome:
    root = project_root(inputs, options.root)
    config = config_for(options.config, Path(inputs[0]) if inputs else None)
    kept = [f for f in findings if config.rule_selected(f.rule)]
    index = _scan_files(kept)
    for f in kept:
        inline = index.covering(f)
        if inline is not None:
            inline.used += 1
            f.suppressed = Suppression("inline", inline.reason, inline.location)
            continue
        ignore = config.ignore_for(f)
        if ignore is not None:
            f.suppressed = Suppression("config", ignore.reason, ignore.source)
    kept += [f for f in index.unused() if config.rule_selected(f.rule)]
    assign_fingerprints(kept, root)
    outcome = Outcome(kept, root, config)
    if options.baseline:
        baseline = read_baseline(options.baseline)
        remaining = Counter(baseline.counts)
        for f in kept:
            if f.suppressed is None and f.fingerprint and remaining[f.fingerprint] > 0:
                remaining[f.fingerprint] -= 1
                f.suppressed = Suppression("baseline", "accepted in the baseline", Location(options.baseline, None))
        outcome.baseline_path = options.baseline
        outcome.baseline_gone = sum(remaining.values())
    if options.write_baseline:
        accepted = [f for f in kept if f.suppressed is None or f.suppressed.kind == "baseline"]
        write_baseline(options.write_baseline, accepted, root)
        for f in accepted:
            f.suppressed = Suppression("baseline", "accepted in the baseline just written",
                                       Location(options.write_baseline, None))
        outcome.wrote_baseline = options.write_baseline
    return outcome


def summary_line(outcome: Outcome) -> str | None:
    """One line about what was suppressed and what the baseline did, for text reports."""
    by_kind = Counter(f.suppressed.kind for f in outcome.suppressed if f.suppressed is not None)
    parts = []
    if by_kind:
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items()))
        parts.append(f"{sum(by_kind.values())} suppressed ({detail}; --show-suppressed lists them)")
    if outcome.baseline_path:
        parts.append(f"{outcome.baseline_gone} baselined finding(s) gone since {outcome.baseline_path}")
    if outcome.wrote_baseline:
        parts.append(f"baseline written to {outcome.wrote_baseline}")
    return "; ".join(parts) or None
