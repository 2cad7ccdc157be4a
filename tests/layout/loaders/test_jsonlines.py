"""The line-keeping JSON reader agrees with json.loads and reports errors with lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.errors import InputError
from hvcheck.layout.loaders.jsonlines import read_json_lines

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=80, deadline=None)
@given(_json, st.integers(0, 4))
def test_same_values_as_json_loads(tmp_path_factory, value, indent) -> None:
    p = tmp_path_factory.mktemp("j") / "x.json"
    p.write_text(json.dumps(value, indent=indent or None))
    assert read_json_lines(p).plain() == value


def test_lines(tmp_path: Path) -> None:
    p = tmp_path / "z.json"
    p.write_text('{\n  "a": 1,\n  "regions": [\n    {"x": "0x10"},\n    {"x": "0x20"}\n  ]\n}\n')
    doc = read_json_lines(p)
    assert doc.get("a").line == 2
    assert [r.line for r in doc.get("regions").value] == [4, 5]


@pytest.mark.parametrize("text, line, what", [
    ('{\n "a": 1,\n "b": [1, 2\n}\n', 4, "expected `,` or `]`"),
    ('{\n "a": 1,\n "a": 2\n}\n', 3, "duplicate key"),
    ('{"a": "unterminated\n}', 1, "invalid JSON"),
    ('', 1, "empty file"),
    ('{"a": 1} trailing', 1, "extra data"),
    ('[' * 100, 1, "nested deeper"),
])
def test_bad_json(tmp_path: Path, text: str, line: int, what: str) -> None:
    p = tmp_path / "z.json"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        read_json_lines(p)
    assert exc.value.line == line and what in exc.value.message
