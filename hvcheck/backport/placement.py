"""Where each side's change blocks sit: one :class:`Side` per patch, holding the trees the user
gave (or the commits a git repository supplies), the rebuilt images and their parses.

Evidence levels (model.EVIDENCE_*): a tree parsed with tree-sitter-c when the hunk could be located
in it; else the hunk's own text; else the @@ header. Every placement carries all the levels it
has, so the rules can compare like with like.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hvcheck.backport.model import (
    EVIDENCE_HEADER,
    EVIDENCE_HUNK,
    EVIDENCE_TREE,
    Block,
    FilePatch,
    Message,
    Patch,
    Placement,
    UpstreamRef,
)
from hvcheck.backport.pairing import Unit, norm
from hvcheck.backport.readers.cscope import LineEdit, SourceIndex, index_source
from hvcheck.backport.readers.textscope import patch_scopes
from hvcheck.backport.readers.trees import (
    DirTree,
    FileImages,
    GitTree,
    Tree,
    apply_hunks,
    build_images,
    candidate_names,
    first_parent,
    map_back,
    map_forward,
    resolve_commit,
)

MAX_CHAIN_WALK = 64  # images walked along a series to parse one incrementally rather than afresh


@dataclass
class TreeChoice:
    """The trees one message's files are read from, and why those."""

    pre: Tree | None
    post: Tree | None
    why: str  # "", or how the revision was chosen ("commit X named in `commit X upstream` at line 5")
    exact: bool = True  # False: a nearby revision (a Fixes: commit, a work tree), hunks located with drift
    chain: bool = True  # one tree for a whole series: later messages start from earlier post-images


@dataclass
class Side:
    name: str
    patch: Patch
    pre_tree: Tree | None = None
    post_tree: Tree | None = None
    repo: str | None = None  # a git repository to read the commits the messages name
    _choices: dict[int, TreeChoice] = field(default_factory=dict)
    _hints: dict[int, list[UpstreamRef]] = field(default_factory=dict)
    _images: dict[int, FileImages] = field(default_factory=dict)
    _index: dict[tuple[int, str], SourceIndex] = field(default_factory=dict)
    _by_text: dict[int, SourceIndex] = field(default_factory=dict)
    _chains: dict[int, list[FilePatch]] = field(default_factory=dict)
    _keep: list[str] = field(default_factory=list)
    _next: dict[int, FilePatch] = field(default_factory=dict)  # series chain: the next patch of the same file
    _prev: dict[int, FilePatch] = field(default_factory=dict)
    _built: bool = False

    @property
    def has_tree(self) -> bool:
        return self.pre_tree is not None or self.post_tree is not None or self.repo is not None

    def tree_label(self) -> str:
        if self.repo is not None:
            return f"git repository {self.repo}"
        trees = [t for t in dict.fromkeys((self.pre_tree, self.post_tree)) if t is not None]
        return " / ".join(t.label for t in trees)

    def hint(self, message: int, refs: list[UpstreamRef]) -> None:
        """Commit ids the paired message on the other side names (a stable mail's `commit X
        upstream` names the upstream commit)."""
        self._hints.setdefault(message, []).extend(refs)

    # --- trees ---------------------------------------------------------------------------------

    def choice(self, message: int) -> TreeChoice:
        if message not in self._choices:
            self._choices[message] = self._choose(message)
        return self._choices[message]

    def _choose(self, message: int) -> TreeChoice:
        if self.repo is None:
            return TreeChoice(self.pre_tree, self.post_tree, "")
        msg: Message | None = self.patch.messages[message] if message < len(self.patch.messages) else None
        refs = (msg.refs if msg else []) + self._hints.get(message, [])
        order = [r for r in refs if r.kind == "self"] + [r for r in refs if r.kind == "upstream"] + \
            [r for r in refs if r.kind == "fixes"]
        for ref in order:
            sha = resolve_commit(self.repo, ref.sha)
            if sha is None:
                continue
            where = f"line {ref.line} `{ref.text}`"
            if ref.kind == "fixes":
                tree = GitTree(self.repo, sha, f"the commit a `Fixes:` line names, {where}; the code before the fix, "
                                             "drifted")
                return TreeChoice(tree, tree, tree.label, exact=False, chain=False)
            parent = first_parent(self.repo, sha)
            post = GitTree(self.repo, sha, f"named at {where}")
            pre = GitTree(self.repo, parent, f"parent of {sha[:12]}") if parent else None
            return TreeChoice(pre, post, post.label, exact=True, chain=False)
        tried = ", ".join(sorted({r.sha[:12] for r in order})) or "none named"
        work = DirTree(self.repo)
        return TreeChoice(work, work, f"work tree of {self.repo} (commits named: {tried}; none found in the "
                                      "repository)", exact=False)

    def images(self, fp: FilePatch) -> FileImages | None:
        if not self.has_tree and fp.old_path is not None:
            return None
        if not self._built:
            self._build_all()
        return self._images.get(id(fp))

    def _build_all(self) -> None:
        """Images for every file patch, in patch order. In a series read against one tree (the
        tree holds the files before or after the whole series, not between its commits), a later
        patch of the same file starts from the previous patch's post-image."""
        self._built = True
        by_message: dict[int, list[FilePatch]] = {}
        for fp in self.patch.files:
            by_message.setdefault(fp.message, []).append(fp)
        for message, fps in by_message.items():
            choice = self.choice(message)
            for tree in (choice.pre, choice.post):
                if tree is not None:
                    tree.prefetch([n for fp in fps if not fp.binary for n in candidate_names(fp)[:2]])
        last_post: dict[str, tuple[str, FilePatch]] = {}
        for fp in self.patch.files:
            if fp.binary:
                continue
            choice = self.choice(fp.message)
            imgs = None
            prev = last_post.get(fp.old_path or "") if choice.chain else None
            if prev is not None:
                other, old_shift, new_shift, located, missing = apply_hunks(prev[0], fp.hunks, True)
                if not missing:
                    imgs = FileImages(prev[0], other, old_shift, new_shift, "post-image of the previous patch in the "
                                      "series", None, located, missing, fp.old_path or "", self.tree_label())
                    self._next[id(prev[1])] = fp
                    self._prev[id(fp)] = prev[1]
            if imgs is None:
                imgs = build_images(fp, choice.pre, choice.post)
            self._images[id(fp)] = imgs
            if imgs.post is not None and fp.new_path:
                last_post[fp.new_path] = (imgs.post, fp)

    def index(self, fp: FilePatch, which: str) -> SourceIndex | None:
        imgs = self.images(fp)
        if imgs is None or imgs.problem:
            return None
        text = imgs.pre if which == "pre" else imgs.post
        if text is None:
            return None
        key = (id(fp), which)
        if key not in self._index:
            # in a series one commit's post-image is the next one's pre-image: parse it once
            self._index[key] = self._by_text.get(id(text)) or self._parse_image(fp, which, text)
        return self._index[key]

    def _remember(self, text: str, idx: SourceIndex) -> SourceIndex:
        self._by_text[id(text)] = idx
        self._keep.append(text)  # keeps id(text) unique while it is a cache key
        return idx

    def _chain(self, fp: FilePatch) -> list[FilePatch]:
        """The file patches of fp's file that follow one another in the series (just [fp] when
        the file is patched once, or its images came from the tree)."""
        if id(fp) not in self._chains:
            head = fp
            while id(head) in self._prev:
                head = self._prev[id(head)]
            chain = [head]
            while id(chain[-1]) in self._next:
                chain.append(self._next[id(chain[-1])])
            for member in chain:
                self._chains[id(member)] = chain
        return self._chains[id(fp)]

    def _parse_image(self, fp: FilePatch, which: str, text: str) -> SourceIndex:
        """Parse one image, incrementally from the nearest image of the same file already parsed
        (one hunk set away per step along the series): a 10-commit series parses each file once
        in full instead of 11 times."""
        chain = self._chain(fp)
        # image j of the chain: 0 = pre-image of its first patch, j = post-image of patch j - 1
        images: list[str | None] = [None] * (len(chain) + 1)
        for k, member in enumerate(chain):
            imgs = self.images(member)
            if imgs is None or imgs.problem:
                break
            if k == 0:
                images[0] = imgs.pre
            images[k + 1] = imgs.post
        target = chain.index(fp) + (1 if which == "post" else 0)
        nearest = None
        for hops in range(1, MAX_CHAIN_WALK + 1):
            for j in (target - hops, target + hops):
                img = images[j] if 0 <= j < len(images) else None
                if img is not None and id(img) in self._by_text:
                    nearest = j
                    break
            if nearest is not None:
                break
        if nearest is None or images[target] is not text or \
                any(images[j] is None for j in range(min(nearest, target), max(nearest, target) + 1)):
            return self._remember(text, index_source(text))
        step = 1 if target > nearest else -1
        idx = self._by_text[id(images[nearest])]
        for j in range(nearest + step, target + step, step):
            img = images[j]
            found = self._by_text.get(id(img))
            if found is None and img is not None:
                # image j comes from image j - 1 by patch j - 1's hunks (forward), or from image
                # j + 1 by undoing patch j's (backward)
                between = self.images(chain[j - 1 if step > 0 else j])
                located = between.located if between is not None else {}
                edits = [LineEdit(loc.pre_at, loc.pre_len, loc.post_at, loc.post_len) if step > 0 else
                         LineEdit(loc.post_at, loc.post_len, loc.pre_at, loc.pre_len) for loc in located.values()]
                found = self._remember(img, index_source(img, idx, edits))
            assert found is not None  # every image on the way exists (checked above)
            idx = found
        return idx

    def scope_index(self, fp: FilePatch, which: str, line: int) -> tuple[SourceIndex | None, int, str]:
        """The parsed image to ask about ``line`` (1-based, in fp's own ``which`` image): in a series
        read against one tree, the line is carried to the last post-image of the file (or back to
        the first pre-image) when it survives there, so each file is parsed once rather than once
        per commit. Returns (index, line in that index, how it was mapped)."""
        step = self._next if which == "post" else self._prev
        mapper = map_forward if which == "post" else map_back
        cur = fp
        x: int | None = line - 1
        hops = 0
        while id(cur) in step and x is not None:
            nxt = step[id(cur)]
            imgs = self.images(nxt if which == "post" else cur)
            if imgs is None:
                break
            x = mapper(imgs.located, x)
            if x is None:
                break
            cur = nxt
            hops += 1
        if hops and x is not None:
            how = f" (line carried over {hops} later commit(s) of the series)" if which == "post" else \
                f" (line carried back over {hops} earlier commit(s) of the series)"
            return self.index(cur, which), x + 1, how
        return self.index(fp, which), line, ""

    def tree_problem(self, fp: FilePatch) -> str | None:
        imgs = self.images(fp)
        return imgs.problem if imgs is not None else None

    # --- placements ----------------------------------------------------------------------------

    def where(self, unit: Unit) -> Placement:
        block = unit.blocks[0]
        fp = block.file
        pick = first_significant(unit)
        blk, idx = pick
        kind = blk.changed[idx - blk.start][0]
        which = "post" if kind == "+" else "pre"
        hunk_scope, header = patch_scopes(blk, idx)
        place = Placement(self.name, fp.path, fp.patch_path, blk.hunk.input_line(idx), blk.hunk.index, None, None, "",
                          header_scope=header, hunk_scope=hunk_scope)
        imgs = self.images(fp)
        if imgs is not None and imgs.hunk_ok(blk.hunk.index) and \
                (imgs.post if which == "post" else imgs.pre) is not None:
            shift = (imgs.new_shift if which == "post" else imgs.old_shift).get(blk.hunk.index, 0)
            old_no, new_no = blk.hunk.numbers()[idx]
            number = (new_no if which == "post" else old_no) or 0
            place.line = number + shift
            src, at, carried = self.scope_index(fp, which, place.line)
            assert src is not None  # the image exists, so it parses
            place.scope = src.scope_at(at)
            place.evidence = EVIDENCE_TREE
            place.image = f"{which}-image"
            loc = imgs.located.get(blk.hunk.index)
            if loc is not None and (loc.fuzz or loc.offset):
                place.located = (f"fuzz {loc.fuzz}, " if loc.fuzz else "") + f"offset {loc.offset:+d} lines"
            choice = self.choice(fp.message)
            place.basis = (f"tree-sitter-c on the {which}-image rebuilt from {imgs.tree_label or self.tree_label()} "
                           f"({imgs.tree_path or fp.path}, {imgs.state}){carried}")
            if not choice.exact:
                place.notes.append(f"tree: {choice.why}")
            return place
        problem = None
        if imgs is not None:
            problem = imgs.problem or (f"hunk {blk.hunk.index} of {fp.path} does not match the copy in "
                                       f"{imgs.tree_label} ({imgs.tree_path}) even with fuzz")
        if hunk_scope is not None:
            place.scope, place.evidence = hunk_scope, EVIDENCE_HUNK
            place.basis = "a definition visible in the hunk's own text"
        elif header is not None:
            place.scope, place.evidence = header, EVIDENCE_HEADER
            place.basis = "the @@ header's text (a hint: truncated, can name the previous definition)"
        else:
            place.basis = "nothing: no tree, no definition in the hunk, no declaration in the @@ header"
        if problem:
            place.basis += f" — a tree was given but could not be used here: {problem}"
            place.notes.append(problem)
        return place


def first_significant(unit: Unit) -> tuple[Block, int]:
    """The line that places a unit: its first non-blank added line (post-image), else its first
    non-blank removed line (pre-image)."""
    for kind in ("added", "removed"):
        for b in unit.blocks:
            for i in (b.added if kind == "added" else b.removed):
                if norm(b.changed[i - b.start][1:]):
                    return b, i
    first = unit.blocks[0]
    return first, first.first
