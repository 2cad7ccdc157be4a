"""`hvcheck demo`: run every bundled seed incident and show that hvcheck diagnoses it."""

from __future__ import annotations

from typing import Any

import click

from hvcheck.cli import common_options, run_options, write_report
from hvcheck.demo import incident, scenarios
from hvcheck.errors import InputError
from hvcheck.findings import Finding


@click.command()
@click.option("--list", "list_only", is_flag=True, help="List the bundled scenarios and exit.")
@click.argument("only", required=False)
@common_options
def demo(list_only: bool, only: str | None, fmt: str, output: str | None, fail_on: str) -> int:
    """Reproduce the three real incidents hvcheck was built around from bundled examples, and
    print the diagnoses (ONLY: one scenario, e.g. `hvcheck demo layout`; --list names them).

    Exit 0 when every scenario produced exactly the findings it is meant to (the point of the
    demo), 1 otherwise. --fail-on is accepted for uniformity and does not apply here.
    """
    from hvcheck.report import render

    mods = scenarios()
    if only:
        chosen = [m for m in mods if only in m.__name__.rsplit(".", 1)[1] or only == getattr(m, "SEED", None)]
        if not chosen:
            names = ", ".join(m.__name__.rsplit(".", 1)[1].removeprefix("scenario_") for m in mods)
            raise InputError(None, f"no demo scenario {only!r}; scenarios: {names}")
        mods = chosen
    if list_only:
        for m in mods:
            click.echo(f"{m.__name__.rsplit('.', 1)[1].removeprefix('scenario_'):<20} {incident(m)}: {m.TITLE}")
        return 0
    out: list[str] = []
    all_findings: list[Finding] = []
    results: list[dict[str, Any]] = []
    ok = True
    for mod in mods:
        out.append(f"\n=== {incident(mod)} ===\n    {mod.TITLE}")
        for step in mod.steps():
            if step.skip:
                out.append(f"\n$ {step.command}")
                if step.explain:
                    out.append(step.explain)
                out.append(f"--> skipped: {step.skip}")
                results.append({"scenario": mod.__name__, "command": step.command, "expect": sorted(step.expect),
                                "got": [], "reproduced": None, "skipped": step.skip})
                continue
            findings = step.run()
            all_findings.extend(findings)
            got = {f.rule for f in findings}
            missing = step.expect - got
            unexpected = got - step.expect
            passed = not missing and not unexpected
            ok &= passed
            results.append({"scenario": mod.__name__, "command": step.command, "expect": sorted(step.expect),
                            "got": sorted(got), "reproduced": passed})
            out.append(f"\n$ {step.command}")
            if step.explain:
                out.append(step.explain)
            out.append(render(findings, "text", preamble=step.preamble() if step.preamble else None).rstrip())
            verdict = "reproduced" if passed else "NOT reproduced"
            detail = ", ".join(sorted(step.expect)) if step.expect else "clean, as intended"
            if not passed:
                detail += f" (missing {sorted(missing)}, unexpected {sorted(unexpected)})"
            out.append(f"--> {verdict}: {detail}")
    if fmt == "text":
        text = "\n".join(out).lstrip("\n") + "\n"
    else:
        from hvcheck.baseline import assign_fingerprints
        from hvcheck.policy import project_root
        from hvcheck.report import RunInfo

        root = project_root(None, run_options().root)
        assign_fingerprints(all_findings, root)
        text = render(all_findings, fmt, extra={"demo": results}, run=RunInfo(command="demo", root=root))
    write_report(text, output)
    return 0 if ok else 1
