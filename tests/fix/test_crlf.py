"""CRLF files are edited as CRLF: whatever the edits insert, the result has no lone LF, and the
text outside the edits is untouched."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hvcheck.fix.textedit import Edit, apply_edits, uses_crlf

LINES = st.lists(st.text(alphabet="abc {};=0x", max_size=12), min_size=1, max_size=8)
PIECE = st.text(alphabet="xyz \n", max_size=20)


@given(LINES, st.lists(st.tuples(st.integers(min_value=0), PIECE), max_size=4))
def test_insertions_into_a_crlf_file_keep_it_crlf(lines: list[str], inserts: list[tuple[int, str]]) -> None:
    text = "\r\n".join(lines) + "\r\n"
    assert uses_crlf(text)
    edits = [Edit(at % (len(text) + 1), at % (len(text) + 1), new) for at, new in inserts]
    out = apply_edits(text, edits)
    assert out.count("\n") == out.count("\r\n"), repr(out)
    # insertions only add: the original (line ends aside) is still there, in order
    assert _subsequence(text.replace("\r", ""), out.replace("\r", ""))


def _subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


def test_lf_file_is_left_lf() -> None:
    text = "a\nb\n"
    assert apply_edits(text, [Edit(2, 2, "c\n")]) == "a\nc\nb\n"
    assert not uses_crlf(text)


def test_insertion_between_cr_and_lf_lands_before_the_line_end() -> None:
    text = "a: 1\r\nb: 2\r\n"
    # an editor that counts lines by LF puts "end of line 1" at offset 5, between CR and LF
    assert apply_edits(text, [Edit(5, 5, "\n  c: 3")]) == "a: 1\r\n  c: 3\r\nb: 2\r\n"
