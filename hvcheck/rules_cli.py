"""`hvcheck rules` and `hvcheck rules ID`: the catalogue, generated from the rule registry."""

from __future__ import annotations

import click

from hvcheck.cli import common_options, finish
from hvcheck.errors import InputError


@click.command()
@click.argument("rule_id", required=False)
@common_options
def rules(rule_id: str | None, fmt: str, output: str | None, fail_on: str) -> int:
    """List the rules, or show the documentation page of RULE_ID."""
    from hvcheck.catalogue import load_catalogue

    catalogue = load_catalogue()
    if rule_id is None:
        lines = [f"{r.id}  {r.severity.label:<7}  {r.area:<8}  {r.title}" for r in catalogue.values()]
        extra = {"rules": [{"id": r.id, "severity": r.severity.label, "area": r.area, "title": r.title,
                            "help_uri": r.help_uri()} for r in catalogue.values()]}
        return finish([], fmt=fmt, output=output, fail_on=fail_on, preamble="\n".join(lines), extra=extra)
    rid = rule_id.upper()
    if rid not in catalogue:
        raise InputError(None, f"unknown rule {rule_id!r}; `hvcheck rules` lists them")
    r = catalogue[rid]
    doc = r.doc()  # a page missing from this installation is exit 2, never a placeholder
    return finish([], fmt=fmt, output=output, fail_on=fail_on, preamble=doc,
                  extra={"rule": {"id": r.id, "severity": r.severity.label, "area": r.area, "title": r.title,
                                  "help_uri": r.help_uri(), "doc": doc}})
