"""Edits to an hvisor board directory (platform/<arch>/<board>/):

- board.rs: split `ROOT_ZONE_MEMORY_REGIONS` entries (tree-sitter byte spans from
  :mod:`hvcheck.layout.loaders.boardrs`), keeping each entry's layout, label comment and number
  style; the `N` of a fixed-size `[HvConfigMemoryRegion; N]` array follows the new count;
- configs/*.json: split `memory_regions` entries of non-root zones;
- image/dts/*.dts: reservations (:mod:`hvcheck.fix.dts`);
- linker.ld `BASE_ADDRESS` and the same number in platform.mk (relocate).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from hvcheck.fix import yamltext as yt
from hvcheck.fix.numfmt import format_like
from hvcheck.fix.plan import Plan, RegionSplit
from hvcheck.fix.textedit import FileEdits, FixError, read_source
from hvcheck.layout.model import System

_INT = re.compile(r"0[xX][0-9a-fA-F_]+|\b\d[\d_]*")
STAGE_SUFFIXES = {".rs", ".ld", ".mk", ".json", ".dts", ".dtsi", ".dtb", ".h", ""}
MAX_STAGE_FILE = 4 << 20


class _Files:
    def __init__(self) -> None:
        self.by_path: dict[Path, FileEdits] = {}

    def get(self, path: Path | str) -> FileEdits:
        p = Path(path)
        key = p.resolve()
        if key not in self.by_path:
            self.by_path[key] = FileEdits(p, read_source(p))
        return self.by_path[key]


def _char(raw: bytes, byte_offset: int) -> int:
    """Character offset of a byte offset (board files may hold UTF-8 comments)."""
    return len(raw[:byte_offset].decode("utf-8", "replace"))


def hvisor_edits(target: Path, system: System, plan: Plan) -> tuple[list[FileEdits], Path]:
    from hvcheck.layout.loaders import hvisor as hvl

    ctx = hvl._context(target, None)
    if ctx.board_dir is None:
        raise FixError(f"{target}: fix edits boards in the current layout (platform/<arch>/<board>/) only")
    files = _Files()
    root = system.root
    for zone in system.zones:
        splits = [s for s in plan.splits if s.zone == zone.name]
        if not splits:
            continue
        if zone is root:
            _board_rs_splits(files, ctx, splits)
        else:
            _json_splits(files, Path(zone.source.path or ""), splits)
    if plan.reservations:
        from hvcheck.fix.dts import dts_edits

        for fe in dts_edits(plan.reservations):
            files.by_path[fe.path.resolve()] = fe
    if plan.relocation is not None:
        _relocate(files, ctx, system, plan)
    base = ctx.repo if ctx.repo is not None else target
    return list(files.by_path.values()), base


# ---------------------------------------------------------------- board.rs


def _namespace(ctx: Any) -> tuple[Any, Any]:
    from hvcheck.layout.loaders import hvisor as hvl
    from hvcheck.layout.loaders.boardrs import Namespace

    board_rs = hvl._rust(ctx.board_file, ctx.features, ctx.arch)
    rust_files = [board_rs]
    if ctx.repo is not None:
        for rel in ("src/consts.rs", f"src/arch/{ctx.arch}/consts.rs", "src/config.rs"):
            p = ctx.repo / rel
            if p.is_file():
                rust_files.append(hvl._rust(p, ctx.features, ctx.arch))
    ns = Namespace(rust_files, hvl.HV_MEM_TYPES)
    const = ns.lookup("ROOT_ZONE_MEMORY_REGIONS")
    if const is None:
        raise FixError(f"{ctx.board_file}: no ROOT_ZONE_MEMORY_REGIONS (root RAM comes from the device tree); "
                       "use --strategy reserve or relocate")
    return ns, const


def _render_literal(raw: bytes, pr: Any, start: int, end: int) -> str:
    """The region's struct literal with physical_start/virtual_start/size set for [start, end)."""
    lit_s, lit_e = pr.literal_span
    values = {"physical_start": start, "virtual_start": pr.virtual_start + (start - pr.physical_start),
              "size": end - start}
    pieces = []
    pos = lit_s
    for name, (fs, fe_) in sorted(pr.field_spans.items(), key=lambda kv: kv[1][0]):
        if name not in values:
            continue
        old = raw[fs:fe_].decode("utf-8", "replace")
        literal = old if _INT.fullmatch(old.strip()) else _style_of_expression(old)
        new = format_like(literal, values[name])
        pieces.append(raw[pos:fs].decode("utf-8", "replace"))
        pieces.append(old if _same(old, values[name]) else new)
        pos = fe_
    pieces.append(raw[pos:lit_e].decode("utf-8", "replace"))
    return "".join(pieces)


def _style_of_expression(expr: str) -> str:
    """A sample literal for an expression being replaced by its value: the first literal's
    grouping, upper-case hex if any literal of the expression uses it."""
    literals = _INT.findall(expr)
    if not literals:
        return "0x0"
    first = literals[0]
    upper = any(re.search(r"[A-F]", lit[2:]) for lit in literals if lit[:2].lower() == "0x")
    if upper and first[:2].lower() == "0x" and not re.search(r"[A-F]", first[2:]):
        first = first[:-1] + "A"
    return first


def _reindent(block: str, src_indent: str, dst_indent: str) -> str:
    lines = block.split("\n")
    return "\n".join([lines[0]] + [dst_indent + ln[len(src_indent):] if ln.startswith(src_indent) else ln
                                    for ln in lines[1:]])


def _same(old: str, value: int) -> bool:
    try:
        from hvcheck.units import parse_int

        return parse_int(re.sub(r"(u8|u16|u32|u64|u128|usize)$", "", old.strip())) == value
    except ValueError:
        return False


def _line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def _board_rs_splits(files: _Files, ctx: Any, splits: list[RegionSplit]) -> None:
    ns, const = _namespace(ctx)
    parsed = ns.regions(const)
    array_fe = files.get(const.file.path)
    raw = const.file.text
    text = array_fe.original
    for split in splits:
        pr = parsed[split.index]
        lit_raw = Path(pr.path).read_bytes() if pr.via_const else raw
        renders = [_render_literal(lit_raw, pr, s, e) for s, e in split.pieces]
        es, ee = (_char(raw, b) for b in pr.element_span)
        trailing, after_comma = _trailing(text, ee)
        label_before = _label_line_before(text, es)
        indent = text[_line_start(text, es):es]
        if not indent.strip() == "":
            indent = ""
        sep = "," + trailing + "\n" + label_before + indent if indent else ", "
        if not split.pieces:
            ls = _line_start(text, es)
            end_line = text.find("\n", after_comma)
            rest = text[after_comma:end_line if end_line >= 0 else len(text)].strip()
            if indent and (not rest or rest == trailing.strip()):
                # the element (and its label comments) owned whole lines: remove the lines
                array_fe.add(ls - len(label_before), (end_line + 1) if end_line >= 0 else len(text), "", split.why)
            else:
                array_fe.add(es, after_comma, "", split.why)
        elif pr.via_const is None:
            array_fe.add(es, ee, sep.join(renders), split.why)
        else:
            lit_fe = files.get(pr.path)
            ls_, le_ = (_char(lit_raw, b) for b in pr.literal_span)
            lit_fe.add(ls_, le_, renders[0], split.why)
            const_name = pr.via_const
            lit_text = lit_fe.original
            src_indent = re.match(r"[ \t]*", lit_text[_line_start(lit_text, ls_):]).group(0)
            extra = "".join(sep + _reindent(r, src_indent, indent) for r in renders[1:])
            if extra:
                array_fe.add(ee, ee, extra, split.why)
                lit_fe.explain(f"{const_name} now holds the first piece; the others follow it in the array.")
        array_fe.explain(split.why + ".")
    added = sum(len(split.pieces) - 1 for split in splits)
    if added:
        _fix_array_length(array_fe, const, raw, added)


def _trailing(text: str, elem_end: int) -> tuple[str, int]:
    """(the `, // label` comment after an element on its line, offset after the comma)."""
    i = elem_end
    while i < len(text) and text[i] in " \t":
        i += 1
    after_comma = i + 1 if i < len(text) and text[i] == "," else elem_end
    rest_end = text.find("\n", after_comma)
    rest = text[after_comma:rest_end if rest_end >= 0 else len(text)]
    return (rest.rstrip() if rest.strip().startswith(("//", "/*")) else ""), after_comma


def _label_line_before(text: str, elem_start: int) -> str:
    ls = _line_start(text, elem_start)
    if text[ls:elem_start].strip():
        return ""
    prev_end = ls - 1
    if prev_end <= 0:
        return ""
    pls = _line_start(text, prev_end)
    line = text[pls:prev_end]
    if line.strip().startswith("//") and not re.search(r"[{}]|HvConfig|mem_type|physical_start", line):
        return line + "\n"
    return ""


def _fix_array_length(fe: FileEdits, const: Any, raw: bytes, added: int) -> None:
    item = const.value.parent
    type_node = item.child_by_field_name("type") if item is not None else None
    if type_node is None or type_node.type != "array_type":
        return  # a slice `&[T]`: no length to update
    length = type_node.child_by_field_name("length")
    if length is None:
        return
    old = raw[length.start_byte:length.end_byte].decode()
    if not _INT.fullmatch(old.strip()):
        raise FixError(f"{const.file.path}:{length.start_point[0] + 1}: array length `{old}` is not a literal; "
                       "update it by hand")
    from hvcheck.units import parse_int

    s, e = _char(raw, length.start_byte), _char(raw, length.end_byte)
    fe.add(s, e, format_like(old, parse_int(old) + added), "the array length follows the number of regions")
    fe.explain(f"The length of {const.name}'s fixed-size array goes from {old} to {parse_int(old) + added}.")


# ---------------------------------------------------------------- zone JSON


def _json_splits(files: _Files, path: Path, splits: list[RegionSplit]) -> None:
    fe = files.get(path)
    root = yt.compose(fe.original.replace("\t", " "), str(path))   # same offsets; YAML dislikes tabs
    key_regions = yt.get(root, "memory_regions")
    if key_regions is None:
        raise FixError(f"{path}: no memory_regions list")
    key, regions = key_regions
    changes = {}
    for split in splits:
        item = regions.value[split.index]
        r = split.region
        copies = []
        for s, e in split.pieces:
            subs = []
            for k, v in (("physical_start", s), ("virtual_start", r.gstart + (s - r.start)), ("size", e - s)):
                n = yt.value(item, k)
                if n is not None:
                    subs.append((n, v))
            copies.append(subs)
        changes[split.index] = copies
        fe.explain(split.why + ".")
    yt.rewrite_items(fe, regions, changes, splits[0].why, key)


# ---------------------------------------------------------------- relocate


def _relocate(files: _Files, ctx: Any, system: System, plan: Plan) -> None:
    from hvcheck.layout.loaders import hvisor as hvl

    rel = plan.relocation
    assert rel is not None and system.hypervisor is not None
    ld_path = hvl._linker_script(ctx)
    ld = hvl._read_linker(ld_path)
    fe = files.get(ld_path)
    text = fe.original
    lines = text.split("\n")
    line = lines[ld.base_line - 1]
    m = re.match(r"(\s*BASE_ADDRESS\s*=\s*)([^;]+);", line)
    if m is None:
        raise FixError(f"{ld_path}:{ld.base_line}: BASE_ADDRESS is not a simple assignment; move it by hand")
    offset = sum(len(x) + 1 for x in lines[: ld.base_line - 1]) + m.start(2)
    expr = m.group(2)
    new_va = ld.base + rel.delta
    first = _INT.search(expr)
    literal = expr.strip() if _INT.fullmatch(expr.strip()) else (first.group(0) if first else "0x0")
    fe.add(offset, offset + len(expr.rstrip()), format_like(literal, new_va), rel.why)
    fe.explain(f"Move BASE_ADDRESS from {ld.base:#x} to {new_va:#x}: {rel.why}.")
    mk = ctx.board_dir / "platform.mk"
    if mk.is_file():
        mfe = files.get(mk)
        mtext = mfe.original
        hits = 0
        pos = 0
        for mline in mtext.split("\n"):
            code = mline.split("#", 1)[0]
            for nm in _INT.finditer(code):
                tok = nm.group(0)
                try:
                    from hvcheck.units import parse_int

                    v = parse_int(tok)
                except ValueError:
                    continue
                if v in (ld.base, rel.old_start) and v > 0xFFFF:
                    new = new_va if v == ld.base else rel.new_start
                    mfe.add(pos + nm.start(), pos + nm.end(), format_like(tok, new), rel.why)
                    hits += 1
            pos += len(mline) + 1
        if hits:
            mfe.explain(f"The load/entry address in platform.mk is the same number as BASE_ADDRESS "
                        f"({ld.base:#x}); it moves with it ({hits} occurrence(s)).")


# ---------------------------------------------------------------- staging for the re-check


def stage_board(target: Path, edited: dict[Path, str], tmp: Path) -> tuple[Path, dict[str, str], Path | None]:
    """Copy the board directory (configuration files only) into ``tmp`` with the edited texts."""
    from hvcheck.layout.loaders import hvisor as hvl

    repo = hvl.find_repo_root(target)
    staged = tmp / "platform" / target.resolve().parent.name / target.resolve().name
    sources: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(target):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = Path(dirpath).relative_to(target)
        for name in filenames:
            src = Path(dirpath) / name
            # A symlinked file (board.rs shared between boards) is staged with its target's text.
            if src.suffix.lower() not in STAGE_SUFFIXES or not src.is_file():
                continue
            try:
                if src.stat().st_size > MAX_STAGE_FILE:
                    continue
            except OSError:
                continue
            dst = staged / rel / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            real = src.resolve()
            sources.add(real)
            if real in edited:
                dst.write_text(edited[real], encoding="utf-8", newline="")
            else:
                shutil.copyfile(src, dst)
    outside = [p for p in edited if p not in sources]
    if outside:
        raise FixError(f"{outside[0]}: the fix edits this file, which is not in the board directory {target}, so "
                       "the re-check cannot load the edited board; edit it by hand")
    return staged, {str(staged): str(target)}, repo
