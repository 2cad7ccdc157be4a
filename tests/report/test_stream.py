"""JSON and SARIF reports are written piece by piece (hvcheck.report.stream); the text must stay
exactly ``json.dumps(doc, indent=2)``: scripts and people diff these reports."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.catalogue import load_catalogue
from hvcheck.findings import Finding, Location, Suppression
from hvcheck.report import RunInfo, render, render_chunks
from hvcheck.report.stream import BATCH, Lazy, chunks

load_catalogue()

_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
                    st.sampled_from(["a\nb", "{x}", "[1, 2]", '"q"', "\\", "é", ",:"]))
_json = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=4), inner, max_size=4)),
                     max_leaves=25)


def _lazify(value: Any, pick: list[bool]) -> Any:
    """The same document with some of its lists made Lazy (each member passed through ``wrap``)."""
    if isinstance(value, dict):
        return {k: _lazify(v, pick) for k, v in value.items()}
    if isinstance(value, list):
        if pick and pick.pop():
            return Lazy([[m] for m in value], lambda wrapped: wrapped[0])
        return [_lazify(v, pick) for v in value]
    return value


@given(_json, st.lists(st.booleans(), max_size=10))
@settings(max_examples=300, deadline=None)
def test_pieces_are_the_indented_document(doc: Any, pick: list[bool]) -> None:
    assert "".join(chunks(_lazify(doc, list(pick)))) == json.dumps(doc, indent=2)


def _findings(n: int) -> list[Finding]:
    out = [Finding("P004", f"hunk {i} is extra", [Location("x.c", None, detail="backport: ?"),
                                                    Location("/p/bp.patch", 3 * i + 6, detail=f"hunk {i}")],
                   data={"lines": [f"-b{i};", f"+c{i};"], "at": 0x1000 + i, "none": None, "empty": []},
                   fingerprint=f"{i:032x}") for i in range(n)]
    out[1].suppressed = Suppression("inline", "known", Location("x.c", 2))
    return out


def test_json_and_sarif_reports_equal_the_whole_document_dump() -> None:
    from hvcheck.report.json_report import _jsonable, finding_to_json

    findings = _findings(5)
    run = RunInfo(command="backport", summary="1 suppressed", baseline=True)
    text = render(findings, "json", extra={"backport": {"pairs": [], "n": 3}}, run=run)
    reported = [f for f in findings if f.suppressed is None]
    expected = {"tool": "hvcheck", "version": json.loads(text)["version"],
                "findings": [finding_to_json(f) for f in reported],
                "summary": {"error": 0, "warning": 4, "note": 0},
                "suppressed": [finding_to_json(findings[1])], "run_summary": "1 suppressed",
                "backport": _jsonable({"pairs": [], "n": 3})}
    assert text == json.dumps(expected, indent=2) + "\n"
    sarif = render(findings, "sarif", run=run)
    assert sarif == json.dumps(json.loads(sarif), indent=2) + "\n"
    assert [r["partialFingerprints"]["hvcheck/v1"] for r in json.loads(sarif)["runs"][0]["results"]] == \
        [f"{i:032x}" for i in range(5)]
    assert "".join(render_chunks(findings, "sarif", run=run)) == sarif


def test_a_finding_is_converted_only_when_its_piece_is_written() -> None:
    converted: list[int] = []
    lazy = Lazy(range(10 * BATCH), lambda i: converted.append(i) or {"i": i})
    pieces = chunks({"findings": lazy})
    for _ in range(3):
        next(pieces)
    assert len(converted) <= BATCH  # a batch at a time, not the whole list up front
    rest = "".join(pieces)
    assert len(converted) == 10 * BATCH and rest.endswith("]\n}")


def test_lists_longer_than_a_batch_keep_the_exact_text() -> None:
    members = [{"i": i, "lines": [f"-b{i};", "+c;"], "empty": {}, "none": None} for i in range(2 * BATCH + 3)]
    for doc in ({"findings": members}, {"runs": [{"results": members, "x": []}]}):
        lazy = {"findings": Lazy(members, dict)} if "findings" in doc else \
            {"runs": [{"results": Lazy(range(len(members)), members.__getitem__), "x": []}]}
        assert "".join(chunks(lazy)) == json.dumps(doc, indent=2)


def test_text_report_in_pieces_is_the_same_text() -> None:
    from hvcheck.report.text import FLUSH_LINES, render_text, text_chunks

    findings = _findings(FLUSH_LINES // 2)  # several pieces (each finding is 4+ lines)
    run = RunInfo(show_suppressed=True, summary="1 suppressed")
    pieces = list(text_chunks(findings, title="t", preamble="pre\n", run=run))
    assert len(pieces) > 1
    whole = "".join(pieces)
    assert whole == render_text(findings, title="t", preamble="pre\n", run=run)
    lines = whole.split("\n")
    assert lines[:2] == ["t", "pre"] and lines[-2:] == ["1 suppressed", ""]
    assert whole.count("  • hunk ") == len(findings) and "\n\n\n" not in whole
