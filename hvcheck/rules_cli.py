"""`hvcheck rules` and `hvcheck rules ID`."""

from __future__ import annotations

import click

from hvcheck.cli import common_options, finish
from hvcheck.errors import InputError
from hvcheck.findings import REGISTRY


@click.command()
@click.argument("rule_id", required=False)
@common_options
def rules(rule_id: str | None, fmt: str, output: str | None, fail_on: str) -> None:
    """List the rules, or show the documentation page of RULE_ID."""
    if rule_id is None:
        lines = [f"{r.id}  {r.severity.label:<7}  {r.area:<8}  {r.title}" for r in REGISTRY.values()]
        extra = {"rules": [{"id": r.id, "severity": r.severity.label, "area": r.area, "title": r.title}
                           for r in REGISTRY.values()]}
        finish([], fmt=fmt, output=output, fail_on=fail_on, preamble="\n".join(lines), extra=extra)
    rid = rule_id.upper()
    if rid not in REGISTRY:
        raise InputError(None, f"unknown rule {rule_id!r}; `hvcheck rules` lists them")
    r = REGISTRY[rid]
    finish([], fmt=fmt, output=output, fail_on=fail_on, preamble=r.doc(),
           extra={"rule": {"id": r.id, "severity": r.severity.label, "area": r.area, "title": r.title,
                           "doc": r.doc()}})
