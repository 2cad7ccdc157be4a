"""The documented JSON Schema agrees with the loader on the bundled examples and on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import ROOT
from helpers import BASE

from hvcheck.errors import InputError
from hvcheck.layout.loaders import load_layout

SCHEMA = json.loads((ROOT / "hvcheck" / "docs" / "layout.schema.json").read_text())
EXAMPLES = sorted((ROOT / "hvcheck" / "demo" / "examples" / "layout").glob("*.yaml"))


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_bundled_examples_satisfy_schema_and_load(path: Path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)
    load_layout(path)


def test_base_test_layout_satisfies_schema() -> None:
    jsonschema.validate(BASE, SCHEMA)


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("zones"),
    lambda d: d.update({"hvcheck-layout": 2}),
    lambda d: d["zones"][0]["regions"][0].update({"kind": "dram"}),
    lambda d: d["zones"][0]["regions"][0].pop("size"),
    lambda d: d["zones"][0].update({"regoins": []}),
    lambda d: d["hypervisor"].pop("end"),
    lambda d: d["zones"][0]["regions"][0].update({"start": "banana"}),
])
def test_schema_and_loader_both_reject(tmp_path: Path, mutate) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(json.dumps(BASE))
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    p = tmp_path / "l.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError):
        load_layout(p)
