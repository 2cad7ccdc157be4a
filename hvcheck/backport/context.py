"""Where a paired unit sits on one side: from real source (tree-sitter-c on the reconstructed
pre-/post-image) when a tree is available, otherwise from the patch's own hunk text and `@@`
header (lower confidence: headers are truncated by quilt and name the previous function when a
hunk starts before the next one's signature)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcheck.backport.cscope import Context, Function, SourceIndex, Switch, index_source
from hvcheck.backport.pairing import Unit, norm
from hvcheck.backport.patchfile import Block, FilePatch, Line, Patch
from hvcheck.backport.sources import FileImages, Tree, apply_hunks, build_images


@dataclass
class Where:
    side: str  # "upstream" or "backport"
    path: str
    line: int  # in the image named by ``image`` (or the patch line when image == "patch")
    image: str  # "post-image", "pre-image" or "patch"
    context: Context
    from_tree: bool
    basis: str
    patch_path: str
    patch_line: int
    hunk: int
    notes: list[str] = field(default_factory=list)
    _source: tuple[Side, FilePatch] | None = field(default=None, repr=False)

    # parsed lazily: most comparisons need only the image the block lives in
    @property
    def pre_index(self) -> SourceIndex | None:
        return self._source[0].index(self._source[1], "pre") if self._source else None

    @property
    def post_index(self) -> SourceIndex | None:
        return self._source[0].index(self._source[1], "post") if self._source else None


@dataclass
class Side:
    name: str
    patch: Patch
    pre_tree: Tree | None = None
    post_tree: Tree | None = None
    _images: dict[int, FileImages] = field(default_factory=dict)
    _index: dict[tuple[int, str], SourceIndex] = field(default_factory=dict)

    @property
    def has_tree(self) -> bool:
        return self.pre_tree is not None or self.post_tree is not None

    def images(self, fp: FilePatch) -> FileImages | None:
        if not self.has_tree and fp.old_path is not None:
            return None
        if not self._images:
            self._build_all()
        return self._images.get(id(fp))

    def _build_all(self) -> None:
        """Images for every file patch, in patch order. In a series (one mbox, several commits)
        a later patch of the same file starts from the previous patch's post-image, since the
        tree holds the file before (or after) the whole series, not between its commits."""
        last_post: dict[str, str] = {}
        for fp in self.patch.files:
            if fp.binary:
                continue
            imgs = None
            prev = last_post.get(fp.old_path or "")
            if prev is not None:
                res = apply_hunks(prev, fp.hunks, True)
                if res is not None:
                    imgs = FileImages(prev, res[0], res[1], res[2], "post-image of the previous patch in the series")
            if imgs is None:
                imgs = build_images(fp, self.pre_tree, self.post_tree)
            self._images[id(fp)] = imgs
            if imgs.post is not None and fp.new_path:
                last_post[fp.new_path] = imgs.post

    def index(self, fp: FilePatch, which: str) -> SourceIndex | None:
        imgs = self.images(fp)
        if imgs is None or imgs.problem:
            return None
        text = imgs.pre if which == "pre" else imgs.post
        if text is None:
            return None
        key = (id(fp), which)
        if key not in self._index:
            self._index[key] = index_source(text)
        return self._index[key]

    def tree_problem(self, fp: FilePatch) -> str | None:
        imgs = self.images(fp)
        return imgs.problem if imgs is not None else None

    def where(self, unit: Unit) -> Where:
        block = unit.blocks[0]
        fp = block.file
        added = _first_significant([ln for b in unit.blocks for ln in b.added])
        removed = _first_significant([ln for b in unit.blocks for ln in b.removed])
        which, line = ("post", added) if added is not None else ("pre", removed)
        assert line is not None
        imgs = self.images(fp)
        idx = self.index(fp, which)
        if imgs is not None and idx is not None:
            shift = (imgs.new_shift if which == "post" else imgs.old_shift).get(_hunk_of(unit, line), 0)
            number = (line.new_no if which == "post" else line.old_no) or 0
            actual = number + shift
            ctx = idx.context_at(actual)
            label = self.post_tree.label if which == "post" and self.post_tree else (
                self.pre_tree.label if self.pre_tree else "the patch")
            basis = f"tree-sitter-c on the {which}-image reconstructed from {label} ({imgs.state} found)"
            return Where(self.name, fp.path, actual, f"{which}-image", ctx, True, basis, fp.patch_path,
                         line.patch_line, block.hunk.index, _source=(self, fp))
        ctx = context_from_patch(block, line, which)
        basis = "the patch's own hunk text and @@ header (no source tree" + (
            f": {self.tree_problem(fp)})" if self.tree_problem(fp) else " given)")
        return Where(self.name, fp.path, line.patch_line, "patch", ctx, False, basis, fp.patch_path,
                     line.patch_line, block.hunk.index)


def _hunk_of(unit: Unit, line: Line) -> int:
    for b in unit.blocks:
        if any(ln is line for ln in b.removed + b.added):
            return b.hunk.index
    return unit.blocks[0].hunk.index


def _first_significant(lines: list[Line]) -> Line | None:
    for ln in lines:
        if norm(ln.text):
            return ln
    return lines[0] if lines else None


_SIGNATURE = re.compile(r"^(?!(?:if|for|while|switch|return|else|do|case|default|goto|typedef|struct\s+\w+\s*\{)\b)"
                        r"[A-Za-z_][\w\s\*,]*?\b([A-Za-z_]\w*)\s*\(")
_HEADER_NAME = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
CASE_LABEL = re.compile(r"^(\s*)(case\s+(.+?)\s*:(?!:)|default\s*:)")
_SWITCH = re.compile(r"^(\s*).*\bswitch\s*\((.*)\)")
# A case label or switch head lives in a line's first characters; matching these patterns over a
# megabyte-long line backtracks quadratically (found by fuzz.runner), so only the head is matched.
LINE_HEAD = 512


def _indent(text: str) -> int:
    return len(text.expandtabs(8)) - len(text.expandtabs(8).lstrip())


def header_function(section: str) -> str | None:
    """The function named by an `@@` header's section text (possibly truncated by quilt)."""
    if not section:
        return None
    m = _HEADER_NAME.search(section)
    if m:
        return m.group(1)
    words = re.findall(r"[A-Za-z_]\w*", section)
    return words[-1] + "…" if words else None  # truncated before the '(': mark it


def context_from_patch(block: Block, line: Line, which: str) -> Context:
    side_lines = [ln for ln in block.hunk.lines if ln.kind != ("-" if which == "post" else "+")]
    try:
        pos = side_lines.index(line)
    except ValueError:
        pos = 0
    above = side_lines[:pos]
    fn_name: str | None = None
    basis = "hunk text"
    for ln in reversed(above):
        if ln.text.startswith("}"):
            fn_name = ""  # the function the header names ended inside the hunk
            break
        m = _SIGNATURE.match(ln.text, 0, LINE_HEAD)
        if m and not ln.text.rstrip().endswith(";"):
            fn_name = m.group(1)
            break
    if fn_name is None:
        fn_name = header_function(block.hunk.section)
        basis = "@@ header"
    known = fn_name is not None  # "" means file scope (a function ended above the line)
    fn = Function(fn_name, 0, 0, "") if fn_name else None
    # switch / case visible in the hunk text above the line
    own_indent = _indent(line.text)
    case = None
    case_indent = None
    switch = None
    for ln in reversed(above):
        mc = CASE_LABEL.match(ln.text, 0, LINE_HEAD)
        if mc and case is None and _indent(ln.text) <= own_indent:
            case = f"case {norm(mc.group(3))}" if mc.group(3) else "default"
            case_indent = _indent(ln.text)
            continue
        ms = _SWITCH.match(ln.text, 0, LINE_HEAD)
        if ms and (case_indent is None or _indent(ln.text) <= case_indent):
            cond = norm(ms.group(2))
            switch = Switch(cond, 0, frozenset())
            break
    if case is not None or switch is not None:
        labels = frozenset(f"case {norm(m.group(3))}" if m.group(3) else "default"
                           for m in (CASE_LABEL.match(ln.text, 0, LINE_HEAD) for ln in side_lines) if m and
                           (case_indent is None or _indent(m.string) == case_indent))
        switch = Switch(switch.condition if switch else "?", 0, labels)
    own_case = CASE_LABEL.match(line.text, 0, LINE_HEAD)
    if own_case:
        case = f"case {norm(own_case.group(3))}" if own_case.group(3) else "default"
    return Context(fn, switch, case, basis=f"patch {basis}", known=known)
