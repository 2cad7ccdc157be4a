"""Turn an hvisor checkout (github syswonder/hvisor) into the layout model.

Two layouts exist (docs/hvisor.md):
- current: ``platform/<arch>/<board>/`` with ``board.rs``, ``linker.ld``, ``configs/*.json``,
  ``image/dts/*.dts``, ``platform.mk``, ``cargo/features``;
- earlier (2024 - early 2025): ``src/platform/<board>_<arch>.rs``, ``scripts/<board>-<arch>.ld``,
  ``images/<arch>/devicetree/*.json|dts``.
Constants (pool and per-CPU sizes) come from ``src/consts.rs`` (+ ``src/arch/<arch>/consts.rs``),
found by walking up to the repository root.

Every value keeps its file:line. The hypervisor's extent is exact with ``--elf`` and otherwise
estimated as BASE + image (2-8 MiB, assumed) + HV_EXTENDED_SIZE, with the estimate recorded for M014.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.intexpr import ExprError, evaluate, size_suffix
from hvcheck.layout.loaders import LoadOptions, Target
from hvcheck.layout.loaders.boardrs import (
    Namespace,
    ParsedStruct,
    RustConst,
    RustFile,
    Sym,
    cfg_evaluator,
    read_rust,
)
from hvcheck.layout.loaders.jsonlines import JValue, read_json_lines
from hvcheck.layout.model import (
    Board,
    Device,
    DeviceTreeFacts,
    Estimate,
    Hypervisor,
    HypervisorPart,
    ImageKind,
    LoadImage,
    Numbered,
    Region,
    RegionKind,
    Span,
    System,
    Zone,
)
from hvcheck.units import U64_LIMIT, human_size, int_of

ARCHES = ("aarch64", "riscv64", "loongarch64", "x86_64")
DEFAULT_IMAGE_SIZE = (2 << 20, 8 << 20)
HV_MEM_TYPES = {"MEM_TYPE_RAM": 0, "MEM_TYPE_IO": 1, "MEM_TYPE_VIRTIO": 2}  # src/config.rs
X86_PHYS_VIRT_OFFSET = 0xFFFF_FF80_0000_0000   # src/arch/x86_64/entry.rs (used when not found)
LOONGARCH_DMW_MASK = (1 << 48) - 1             # DMW window: physical = low 48 bits
UART_ASSUMED_SIZE = 0x1000


@dataclass(frozen=True)
class BoardRef:
    name: str          # "<arch>/<board>" (unique within a checkout)
    path: Path         # what to pass to load_hvisor_board: a board dir or an old-layout .rs file
    arch: str
    board: str
    era: str           # "platform" (platform/<arch>/<board>/) or "src-platform" (src/platform/*.rs)


# ---------------------------------------------------------------------------------------------
# discovery


def _board_dirs(repo: Path) -> list[Path]:
    plat = repo / "platform"
    if not plat.is_dir():
        return []
    return sorted(p.parent for p in plat.glob("*/*/board.rs") if p.parent.parent.name in ARCHES)


def _old_board_files(repo: Path) -> list[Path]:
    plat = repo / "src" / "platform"
    if not plat.is_dir():
        return []
    return sorted(p for p in plat.glob("*_*.rs") if _split_old_name(p) is not None)


def _split_old_name(path: Path) -> tuple[str, str] | None:
    stem = path.stem
    for arch in ARCHES:
        if stem.endswith("_" + arch) and len(stem) > len(arch) + 1:
            return stem[: -len(arch) - 1], arch
    return None


def is_hvisor_tree(path: Path) -> bool:
    """A repository root with hvisor boards, a board directory, or an old-layout board file."""
    path = Path(path)
    if path.is_file():
        return path.suffix == ".rs" and _split_old_name(path) is not None and path.parent.name == "platform"
    if (path / "board.rs").is_file():
        return True
    return bool(_board_dirs(path) or _old_board_files(path))


def discover_boards(repo: Path) -> list[BoardRef]:
    """Every board of the checkout: platform/<arch>/<board>/ first, then src/platform/<board>_<arch>.rs."""
    repo = Path(repo)
    if (repo / "board.rs").is_file():  # a single board directory
        return [BoardRef(f"{repo.parent.name}/{repo.name}", repo, repo.parent.name, repo.name, "platform")]
    out = [BoardRef(f"{d.parent.name}/{d.name}", d, d.parent.name, d.name, "platform") for d in _board_dirs(repo)]
    for f in _old_board_files(repo):
        board, arch = _split_old_name(f)  # type: ignore[misc]
        out.append(BoardRef(f"{arch}/{board} (src/platform)", f, arch, board, "src-platform"))
    return out


def resolve_board(repo: Path, name: str) -> Path:
    """`--board NAME`: `rk3568`, `aarch64/rk3568`, `platform/aarch64/rk3568` or `qemu_aarch64`."""
    boards = discover_boards(repo)
    want = name.strip().strip("/")
    if want.startswith("platform/"):
        want = want[len("platform/"):]
    matches = [b for b in boards if want in (b.name, b.board, f"{b.arch}/{b.board}", f"{b.board}_{b.arch}")]
    if len(matches) > 1:
        matches = [b for b in matches if b.era == "platform"] or matches
    if len(matches) == 1:
        return matches[0].path
    known = ", ".join(b.name for b in boards) or "none"
    if not matches:
        raise InputError(str(repo), f"unknown board {name!r}; boards in this checkout: {known}")
    raise InputError(str(repo), f"board {name!r} is ambiguous ({', '.join(b.name for b in matches)}); "
                                "give <arch>/<board>")


def find_repo_root(start: Path) -> Path | None:
    """Walk up from a board directory to the directory holding src/consts.rs."""
    p = Path(start)
    # Unresolved first, so locations keep the spelling the user gave; then the real path.
    for cand in [p, *p.parents, *p.resolve().parents]:
        if (cand / "src" / "consts.rs").is_file():
            return cand
    return None


# ---------------------------------------------------------------------------------------------
# cached readers (under --all the shared files are parsed once)


@lru_cache(maxsize=256)
def _rust_cached(path: str, mtime: float, size: int, features: frozenset[str], arch: str | None) -> RustFile:
    return read_rust(Path(path), cfg_evaluator(set(features), arch))


def _rust(path: Path, features: frozenset[str], arch: str | None) -> RustFile:
    try:
        stat = path.stat()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror}") from None
    return _rust_cached(str(path), stat.st_mtime_ns, stat.st_size, features, arch)


# ---------------------------------------------------------------------------------------------
# the board


@dataclass
class _Ctx:
    board_file: Path
    board_name: str
    arch: str
    era: str
    repo: Path | None
    board_dir: Path | None        # new layout only
    features: frozenset[str]
    notes: list[str]


def _context(board: Path, repo_root: Path | None) -> _Ctx:
    board = Path(board)
    if board.is_dir() and not (board / "board.rs").is_file() and (_board_dirs(board) or _old_board_files(board)):
        names = ", ".join(b.name for b in discover_boards(board))
        raise InputError(str(board), f"an hvisor checkout: give --board NAME or --all (boards: {names})")
    if board.is_dir():
        board_file = board / "board.rs"
        if not board_file.is_file():
            raise InputError(str(board), "not an hvisor board directory (no board.rs)")
        arch = board.parent.name
        if arch not in ARCHES:
            arch = _guess_arch(board)
        repo = repo_root or find_repo_root(board)
        feats = _features(board / "cargo" / "features")
        return _Ctx(board_file, board.name, arch, "platform", repo, board, feats, [])
    if board.is_file() and _split_old_name(board) is not None:
        name, arch = _split_old_name(board)  # type: ignore[misc]
        repo = repo_root or find_repo_root(board.parent)
        return _Ctx(board, name, arch, "src-platform", repo, None, frozenset({f"platform_{name}"}), [])
    if not board.exists():
        raise InputError(str(board), "no such file or directory")
    raise InputError(str(board), "not an hvisor board: expected platform/<arch>/<board>/ (with board.rs) "
                                 "or src/platform/<board>_<arch>.rs")


def _guess_arch(board_dir: Path) -> str:
    text = (board_dir / "board.rs").read_text(encoding="utf-8", errors="replace")
    for arch, hint in (("aarch64", "Gic"), ("riscv64", "plic"), ("loongarch64", "loongarch"), ("x86_64", "ioapic")):
        if hint in text:
            return arch
    return "aarch64"


def _features(path: Path) -> frozenset[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    return frozenset(w for w in re.split(r"[\s,\"']+", text) if w)


def load_hvisor_board(board_dir: Path, *, repo_root: Path | None = None, elf: Path | None = None,
                      root_dts: Path | None = None,
                      image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> System:
    """One hvisor board as a :class:`System` (the primary zone configs; see :func:`load_hvisor_variants`)."""
    return load_hvisor_variants(board_dir, repo_root=repo_root, elf=elf, root_dts=root_dts,
                                image_size=image_size, all_variants=False)[0]


def load_hvisor_variants(board_dir: Path, *, repo_root: Path | None = None, elf: Path | None = None,
                         root_dts: Path | None = None, image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
                         all_variants: bool = True) -> list[System]:
    """Zone JSONs with the same zone_id are alternatives (e.g. zone1-linux.json / zone1-ruxos.json):
    only one runs at a time, so each combination is its own System. The first is the primary
    (shortest file name per zone id)."""
    ctx = _context(Path(board_dir), repo_root)
    if image_size[0] <= 0 or image_size[1] < image_size[0]:
        raise InputError(None, f"--image-size {image_size[0]:#x}:{image_size[1]:#x}: need 0 < MIN <= MAX")
    board_rs = _rust(ctx.board_file, ctx.features, ctx.arch)
    files = [board_rs]
    if ctx.repo is not None:
        for rel in ("src/consts.rs", f"src/arch/{ctx.arch}/consts.rs", "src/config.rs"):
            p = ctx.repo / rel
            if p.is_file():
                files.append(_rust(p, ctx.features, ctx.arch))
    ns = Namespace(files, HV_MEM_TYPES)
    for line, message, _bad in board_rs.syntax_errors:
        ctx.notes.append(f"{board_rs.path}:{line}: {message} (outside every constant the layout uses; ignored)")

    board = _board(ctx, ns, board_rs)
    hv = _hypervisor(ctx, ns, elf, image_size)
    root = _root_zone(ctx, ns, board_rs, board, root_dts)
    groups = _zone_configs(ctx, board)
    combos: list[list[Zone]] = [[]]
    for _zid, alternatives in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        if all_variants:
            combos = [c + [z] for c in combos for z in alternatives]
        else:
            combos = [c + [alternatives[0]] for c in combos]
    systems = []
    for combo in combos:
        notes = list(ctx.notes)
        for _zid, alternatives in groups.items():
            if len(alternatives) > 1:
                chosen = next(z for z in combo if z in alternatives)
                others = ", ".join(z.source.path or z.name for z in alternatives if z is not chosen)
                notes.append(f"zone id {chosen.zone_id}: {chosen.source.path} is checked here; the alternative "
                             f"config(s) {others} use the same zone id (only one runs at a time)")
        name = f"{ctx.arch}/{ctx.board_name}"
        if len(combos) > 1 and combo is not combos[0]:
            name += " [" + ", ".join(Path(z.source.path or "").name for z in combo) + "]"
        systems.append(System(name, Location(str(ctx.board_file), None), hv, board, [root, *combo], notes))
    return systems


# -- board facts ---------------------------------------------------------------------------------


def _const(ns: Namespace, name: str) -> RustConst | None:
    return ns.lookup(name)


def _int(ns: Namespace, name: str) -> tuple[int, Location] | None:
    c = ns.lookup(name)
    if c is None:
        return None
    return ns.eval_int(c.file, c.value, f"const {name}"), c.loc()


def _board(ctx: _Ctx, ns: Namespace, board_rs: RustFile) -> Board:
    board = Board(ctx.board_name)
    ncpus = _int(ns, "BOARD_NCPUS")
    if ncpus is not None:
        board.cpu_count = Numbered(ncpus[0], ncpus[1])
    physmem = ns.lookup("BOARD_PHYSMEM_LIST")
    if physmem is not None:
        for elem, value in ns.items(physmem):
            if not (isinstance(value, tuple) and len(value) == 3 and all(isinstance(v, int) for v in value[:2])):
                raise physmem.file.fail(elem, "BOARD_PHYSMEM_LIST: expected (start, end, MemoryType) tuples")
            start, end, mtype = value
            loc = Location(physmem.file.path, elem.start_point[0] + 1, detail="BOARD_PHYSMEM_LIST (start, end)")
            if end < start:
                raise physmem.file.fail(elem, f"BOARD_PHYSMEM_LIST: end {end:#x} below start {start:#x} "
                                              "(this list holds (start, end, type), not sizes)")
            tname = mtype.name if isinstance(mtype, Sym) else str(mtype)
            if tname.endswith("Normal"):
                board.memory.append(Span(start, end, loc))
            else:
                board.io.append(Span(start, end, loc))
    else:
        ctx.notes.append(f"{board_rs.path}: no BOARD_PHYSMEM_LIST; regions are not checked against the board's "
                         "physical memory (M012)")
    uart = _int(ns, "BOARD_UART_BASE")
    if uart is not None and uart[0]:
        board.devices.append(Device("uart", "uart", uart[0], uart[0] + UART_ASSUMED_SIZE,
                                    Location(uart[1].path, uart[1].line,
                                             detail=f"BOARD_UART_BASE; size assumed {human_size(UART_ASSUMED_SIZE)}")))
    arch_cfg = ns.lookup("ROOT_ARCH_ZONE_CONFIG")
    if arch_cfg is not None:
        value = ns.eval(arch_cfg.file, arch_cfg.value, "ROOT_ARCH_ZONE_CONFIG")
        if isinstance(value, ParsedStruct):
            _devices_from_struct(board, value, "")
    for pci_name in ("ROOT_PCI_CONFIG",):
        pci = ns.lookup(pci_name)
        if pci is None:
            continue
        value = ns.eval(pci.file, pci.value, pci_name)
        for i, cfg in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(cfg, ParsedStruct):
                _pci_devices(board, cfg, f"pci{i}" if isinstance(value, list) and len(value) > 1 else "pci")
    return board


_DEVICE_KINDS = (("gicd", "gic"), ("gicr", "gic"), ("gits", "gic"), ("gicc", "gic"), ("gich", "gic"),
                 ("gicv", "gic"), ("plic", "plic"), ("aplic", "aia"), ("imsic", "aia"), ("ioapic", "ioapic"),
                 ("clint", "clint"))


def _device_kind(prefix: str) -> str | None:
    for p, kind in _DEVICE_KINDS:
        if prefix.startswith(p):
            return kind
    return None


def _add_device(board: Board, dev: Device) -> None:
    if not any(d.start == dev.start and d.end == dev.end and d.name == dev.name for d in board.devices):
        board.devices.append(dev)


def _devices_from_struct(board: Board, st: ParsedStruct, prefix: str) -> None:
    """`<x>_base`/`<x>_size` pairs of an arch config (flat, or nested GicConfig::Gicv3(Gicv3Config{..}))."""
    for key, value in st.fields.items():
        if isinstance(value, ParsedStruct):
            _devices_from_struct(board, value, prefix)
        elif isinstance(value, tuple) and value and isinstance(value[0], Sym):
            for arg in value[1:]:
                if isinstance(arg, ParsedStruct):
                    _devices_from_struct(board, arg, prefix)
        elif key.endswith("_base") and isinstance(value, int):
            dev = key[: -len("_base")]
            kind = _device_kind(dev)
            size = st.fields.get(f"{dev}_size")
            if kind is None or not isinstance(size, int) or size <= 0 or value == 0 and kind != "gic":
                continue
            _add_device(board, Device(dev, kind, value, value + size,
                                      Location(st.path, st.lines.get(key), detail=f"{st.type_name}.{key}")))


def _pci_devices(board: Board, st: ParsedStruct, name: str) -> None:
    for window, kind in (("ecam", "pci-ecam"), ("mem32", "pci-mem32"), ("mem64", "pci-mem64"), ("io", "pci-io")):
        base, size = st.fields.get(f"{window}_base"), st.fields.get(f"{window}_size")
        if isinstance(base, int) and isinstance(size, int) and size > 0:
            _add_device(board, Device(f"{name} {window}", kind, base, base + size,
                                      Location(st.path, st.lines.get(f"{window}_base"),
                                               detail=f"{st.type_name}.{window}_base/{window}_size")))


# -- memory types -------------------------------------------------------------------------------


def _kind_of(name: str, value: int | None) -> RegionKind | None:
    n = name.rsplit("::", 1)[-1].upper()
    if "RAM_NOT_ALLOC" in n or "RESERVED" in n or "OTHER_ZONES" in n:
        return RegionKind.RESERVED
    if "VIRTIO" in n:
        return RegionKind.EMULATED
    if "ROM" in n:
        return RegionKind.ROM
    if "IVC" in n or "SHARED" in n or "SHM" in n:
        return RegionKind.SHARED
    if n.endswith("_RAM") or n == "RAM":
        return RegionKind.RAM
    if n.endswith("_IO") or n == "IO":
        return RegionKind.IO
    if name.strip().isdigit() or name.strip().lower().startswith("0x"):
        return {0: RegionKind.RAM, 1: RegionKind.IO, 2: RegionKind.EMULATED}.get(value if value is not None else -1)
    return None


# -- hypervisor ---------------------------------------------------------------------------------


@dataclass
class _Linker:
    path: str
    base: int
    base_line: int
    hv_end_line: int | None
    cpu_num: int | None


def _linker_script(ctx: _Ctx) -> Path:
    if ctx.board_dir is not None:
        p = ctx.board_dir / "linker.ld"
        if p.is_file():
            return p
        raise InputError(str(ctx.board_dir), "no linker.ld in the board directory (BASE_ADDRESS unknown)")
    scripts = ctx.repo / "scripts" if ctx.repo is not None else ctx.board_file.parent.parent.parent / "scripts"
    cands = sorted(scripts.glob(f"*-{ctx.arch}.ld")) if scripts.is_dir() else []
    exact = [c for c in cands if c.stem == f"{ctx.board_name}-{ctx.arch}"]
    cargo = _cargo_config_script(ctx)
    partial = [c for c in cands if c.stem.split("-")[0] in ctx.board_name or ctx.board_name in c.stem]
    for group, how in ((exact, ""), (cargo, "named by -T in .cargo/config for this target"),
                       (partial, "matched by name"),
                       (cands if len(cands) == 1 else [], f"the only *-{ctx.arch}.ld script")):
        if group:
            if how:
                ctx.notes.append(f"linker script for {ctx.board_name}_{ctx.arch}: using {group[0]} ({how})")
            return group[0]
    raise InputError(str(ctx.board_file), f"no linker script scripts/{ctx.board_name}-{ctx.arch}.ld found "
                                          "(BASE_ADDRESS unknown)")


def _cargo_config_script(ctx: _Ctx) -> list[Path]:
    """Earlier layout: `.cargo/config` names the linker script per target (`-Clink-arg=-T<script>`)."""
    if ctx.repo is None:
        return []
    for name in (".cargo/config", ".cargo/config.toml"):
        try:
            text = (ctx.repo / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for section in re.split(r"^\s*\[", text, flags=re.M):
            if not section.startswith("target.") or not section[len("target."):].startswith(ctx.arch[:5]):
                continue
            m = re.search(r"-T\s*([\w./-]+\.ld)", section)
            if m and (ctx.repo / m.group(1)).is_file():
                return [ctx.repo / m.group(1)]
    return []


def _read_linker(path: Path) -> _Linker:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read: {exc}") from None
    clean = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    base = base_line = hv_end_line = cpu_num = None
    for no, line in enumerate(clean.splitlines(), 1):
        m = re.match(r"\s*BASE_ADDRESS\s*=\s*([^;]+);", line)
        if m and base is None:
            base, base_line = _ld_int(path, m.group(1), no), no
            continue
        if re.match(r"\s*__hv_end\s*=", line):
            hv_end_line = no
        m = re.match(r"\s*CPU_NUM\s*=\s*([^;]+);", line)
        if m:
            cpu_num = _ld_int(path, m.group(1), no)
    if base is None:
        for no, line in enumerate(clean.splitlines(), 1):
            m = re.match(r"\s*\.\s*=\s*(0[xX][0-9a-fA-F_]+|\d+)\s*;", line)
            if m:
                base, base_line = _ld_int(path, m.group(1), no), no
                break
    if base is None or base_line is None:
        raise InputError(str(path), "no BASE_ADDRESS (nor a literal `. = ADDRESS;`) in the linker script")
    return _Linker(str(path), base, base_line, hv_end_line, cpu_num)


def _ld_int(path: Path, expr: str, line: int) -> int:
    """A linker-script constant expression (`0x80000000 + 2M`), bounded (hvcheck.intexpr)."""
    try:
        return evaluate(expr, size_suffix)
    except ExprError as exc:
        raise InputError(str(path), f"cannot evaluate `{expr.strip()[:80]}` in the linker script: {exc}", line) from None


def _to_physical(ctx: _Ctx, vaddr: int) -> tuple[int, str | None]:
    if ctx.arch == "loongarch64" and vaddr >> 48:
        return vaddr & LOONGARCH_DMW_MASK, f"virtual {vaddr:#x} in a LoongArch DMW window: physical = low 48 bits"
    if ctx.arch == "x86_64" and vaddr >= 1 << 63:
        offset, where = X86_PHYS_VIRT_OFFSET, "hvisor's X86_PHYS_VIRT_OFFSET"
        if ctx.repo is not None:
            entry = ctx.repo / "src/arch/x86_64/entry.rs"
            try:
                text = entry.read_text(encoding="utf-8", errors="replace")
                m = re.search(r"X86_PHYS_VIRT_OFFSET\s*:\s*\w+\s*=\s*(0x[0-9a-fA-F_]+)", text)
                if m:
                    offset = int(m.group(1).replace("_", ""), 16)
                    where = f"X86_PHYS_VIRT_OFFSET at {entry}:{text[: m.start()].count(chr(10)) + 1}"
            except OSError:
                pass
        return vaddr - offset, f"x86 high-half virtual {vaddr:#x}: physical = virtual - {offset:#x} ({where})"
    if vaddr >> 48:
        raise InputError(None, f"hypervisor base {vaddr:#x} is a virtual address and the {ctx.arch} "
                               "virtual-to-physical offset is unknown")
    return vaddr, None


def _hypervisor(ctx: _Ctx, ns: Namespace, elf: Path | None, image_size: tuple[int, int]) -> Hypervisor:
    ld_path = _linker_script(ctx)
    ld = _read_linker(ld_path)
    base, base_note = _to_physical(ctx, ld.base)
    base_loc = Location(ld.path, ld.base_line, detail=base_note)
    end_line_loc = Location(ld.path, ld.hv_end_line) if ld.hv_end_line else Location(ld.path, ld.base_line)

    # HV_EXTENDED_SIZE = MAX_CPU_NUM * PER_CPU_SIZE + HV_MEM_POOL_SIZE (src/consts.rs)
    def need(name: str) -> tuple[int, Location]:
        got = _int(ns, name)
        if got is None:
            for f in ns.files:
                skipped = f.cfg_skipped.get(name)
                if skipped:
                    conds = "; ".join(f"line {ln}: cfg({c})" for ln, c in skipped)
                    raise InputError(f.path, f"no definition of {name} applies to target_arch = \"{ctx.arch}\" with "
                                             f"features {sorted(ctx.features) or 'none'} ({conds}); it is needed for "
                                             "the hypervisor's extent", skipped[0][0])
            where = ctx.repo / "src/consts.rs" if ctx.repo else "src/consts.rs (repository root not found)"
            raise InputError(str(where), f"constant {name} not found; it is needed for the hypervisor's extent")
        return got

    cpus, cpus_loc = need("MAX_CPU_NUM")
    per_cpu, per_cpu_loc = need("PER_CPU_SIZE")
    pool, pool_loc = need("HV_MEM_POOL_SIZE")
    percpu_total = cpus * per_cpu
    ext = _int(ns, "HV_EXTENDED_SIZE")
    extended = ext[0] if ext is not None else percpu_total + pool
    ext_loc = ext[1] if ext is not None else pool_loc
    name = "hvisor"
    if elf is not None:
        from hvcheck.layout.loaders.elf import read_hv_extent

        extent = read_hv_extent(Path(elf))
        start, snote = _to_physical(ctx, extent.start.value)
        end, _ = _to_physical(ctx, extent.end.value)
        start_loc = Location(str(elf), None, symbol=extent.start.name, detail=snote)
        end_loc = Location(str(elf), None, symbol=extent.end.name)
        if end <= start:
            raise InputError(str(elf), f"__hv_end {end:#x} is not above skernel {start:#x}")
        hv = Hypervisor(name, start, end, start_loc, end_loc)
        if start != base:
            ctx.notes.append(f"ELF {elf}: skernel {start:#x} differs from BASE_ADDRESS {base:#x} at "
                             f"{ld.path}:{ld.base_line} (ELF built from another linker script?)")
        if extent.core_end is not None:
            core_end, _ = _to_physical(ctx, extent.core_end.value)
            core_loc = Location(str(elf), None, symbol=extent.core_end.name)
            hv.parts = [HypervisorPart("image", start, core_end, start_loc)]
            pool_start = min(core_end + percpu_total, end)
            hv.parts.append(HypervisorPart("per-CPU areas", core_end, pool_start,
                                           Location(cpus_loc.path, cpus_loc.line, detail=(
                                               f"{cpus} CPUs (MAX_CPU_NUM) x PER_CPU_SIZE {human_size(per_cpu)} "
                                               f"from {core_loc.symbol}"))))
            hv.parts.append(HypervisorPart("memory pool", pool_start, end,
                                           Location(pool_loc.path, pool_loc.line,
                                                    detail=f"HV_MEM_POOL_SIZE {human_size(pool)} up to __hv_end")))
        else:
            hv.parts = [HypervisorPart("whole image (no __core_end symbol)", start, end, start_loc)]
        return hv

    lo, hi = image_size
    for value, what, loc in ((per_cpu, "PER_CPU_SIZE", per_cpu_loc), (pool, "HV_MEM_POOL_SIZE", pool_loc),
                             (extended, "HV_EXTENDED_SIZE", ext_loc)):
        if not 0 <= value < U64_LIMIT:
            raise InputError(loc.path, f"{what} evaluates to {value:#x}, not a size", loc.line)
    end_min, end_max = base + lo + extended, base + hi + extended
    if end_max >= U64_LIMIT:
        raise InputError(ext_loc.path, f"estimated __hv_end {end_max:#x} is beyond the 64-bit address space",
                         ext_loc.line)
    formula = (f"BASE_ADDRESS {ld.base:#x}{' (physical ' + hex(base) + ')' if base != ld.base else ''} + image "
               f"[{human_size(lo)}, {human_size(hi)}] + HV_EXTENDED_SIZE {human_size(extended)} "
               f"(MAX_CPU_NUM {cpus} x PER_CPU_SIZE {human_size(per_cpu)} + HV_MEM_POOL_SIZE {human_size(pool)})")
    assumption = (f"no ELF given: image size assumed between {human_size(lo)} and {human_size(hi)} "
                  "(--image-size MIN:MAX; give --elf for the exact __hv_end)")
    end_loc = Location(ext_loc.path, ext_loc.line, detail=f"estimated: {formula}")
    hv = Hypervisor(name, base, end_max, base_loc, end_loc,
                    estimate=Estimate(formula, end_min, end_max, assumption))
    core_end = base + hi
    hv.parts = [
        HypervisorPart("image", base, core_end,
                       Location(ld.path, ld.base_line, detail=f"estimated: image up to {human_size(hi)}")),
        HypervisorPart("per-CPU areas", core_end, core_end + percpu_total,
                       Location(per_cpu_loc.path, per_cpu_loc.line,
                                detail=f"estimated: {cpus} CPUs (MAX_CPU_NUM at {cpus_loc}) x "
                                       f"PER_CPU_SIZE {human_size(per_cpu)}")),
        HypervisorPart("memory pool", core_end + percpu_total, end_max,
                       Location(pool_loc.path, pool_loc.line,
                                detail=f"estimated: HV_MEM_POOL_SIZE {human_size(pool)}; __hv_end at {end_line_loc}")),
    ]
    if ld.cpu_num is not None and ld.cpu_num < cpus:
        ctx.notes.append(f"{ld.path}: CPU_NUM = {ld.cpu_num} sizes the .percpu section for fewer CPUs than "
                         f"MAX_CPU_NUM = {cpus}")
    return hv


# -- zones --------------------------------------------------------------------------------------


def _root_zone(ctx: _Ctx, ns: Namespace, board_rs: RustFile, board: Board, root_dts: Path | None) -> Zone:
    name = "root"
    zname = ns.lookup("ROOT_ZONE_NAME")
    if zname is not None:
        value = ns.eval(zname.file, zname.value, "ROOT_ZONE_NAME")
        if isinstance(value, str) and value:
            name = value
    regions_const = ns.lookup("ROOT_ZONE_MEMORY_REGIONS")
    zone = Zone(name, 0, True, Location(board_rs.path, regions_const.line if regions_const else None))
    if regions_const is not None:
        for i, r in enumerate(ns.regions(regions_const)):
            kind = _kind_of(r.mem_type_name, r.mem_type)
            if kind is None:
                raise InputError(r.path, f"ROOT_ZONE_MEMORY_REGIONS[{i}]: unknown memory type `{r.mem_type_name}`"
                                         f"{'' if r.mem_type is None else f' (= {r.mem_type})'}", r.field_lines["mem_type"])
            if r.size <= 0:
                raise InputError(r.path, f"ROOT_ZONE_MEMORY_REGIONS[{i}]: size {r.size:#x} is not positive",
                                 r.field_lines["size"])
            via = f" = {r.via_const}" if r.via_const else ""
            zone.add_region(Region(kind, r.physical_start, r.size,
                                   Location(r.path, r.line, detail=f"ROOT_ZONE_MEMORY_REGIONS[{i}]{via}"),
                                   None if r.virtual_start == r.physical_start else r.virtual_start, r.label))
    cpus = _int(ns, "ROOT_ZONE_CPUS")
    if cpus is not None:
        mask, loc = cpus
        zone.cpus = [Numbered(bit, loc) for bit in range(mask.bit_length()) if mask >> bit & 1]
    for irq_name in ("ROOT_ZONE_IRQS", "ROOT_ZONE_IRQS_BITMAP"):
        c = ns.lookup(irq_name)
        if c is not None:
            seen: set[int] = set()
            for number, line in ns.irqs(c):
                if number not in seen:
                    seen.add(number)
                    zone.irqs.append(Numbered(number, Location(c.file.path, line, detail=irq_name)))
    kernel = _int(ns, "ROOT_ZONE_KERNEL_ADDR")
    if kernel is not None:
        zone.images.append(LoadImage(ImageKind.KERNEL, kernel[0], None, kernel[1]))
    dtb = _int(ns, "ROOT_ZONE_DTB_ADDR")
    if dtb is not None and not (ctx.arch == "x86_64" and dtb[0] == 0):
        zone.images.append(LoadImage(ImageKind.DTB, dtb[0], None, dtb[1]))
    dt_path = Path(root_dts) if root_dts is not None else _root_dt_path(ctx)
    if dt_path is not None:
        zone.devicetree = _read_dt(dt_path)
    elif ctx.arch == "x86_64" and regions_const is not None:
        zone.devicetree = _x86_e820_facts(ns, board_rs, zone)
    else:
        ctx.notes.append(f"zone {name}: no root device tree found (zone0*.dts/.dtb or platform.mk; give --root-dts); "
                         "the device-tree checks (M002, M003) do not run for it")
    if regions_const is None:
        # Era 1a: the root zone's RAM came from its device tree.
        if zone.devicetree is None or not zone.devicetree.memory:
            raise InputError(board_rs.path, "no ROOT_ZONE_MEMORY_REGIONS and no root device tree with /memory "
                                            "to take the root zone's RAM from (give --root-dts)")
        for m in zone.devicetree.memory:
            zone.add_region(Region(RegionKind.RAM, m.start, m.size,
                                   Location(m.source.path, m.source.line,
                                            detail="root RAM from the device tree (no ROOT_ZONE_MEMORY_REGIONS)")))
    return zone


def _x86_e820_facts(ns: Namespace, board_rs: RustFile, zone: Zone) -> DeviceTreeFacts:
    """x86 has no device tree: hvisor gives the root kernel an e820 map built from
    ROOT_ZONE_MEMORY_REGIONS (src/arch/x86_64/boot.rs, set_e820_entries): MEM_TYPE_RAM regions are
    E820_RAM at their guest address, except the regions named by rsdp/acpi/uefi_memory_region_id
    (ACPI / reserved). That map is what the kernel allocates from, so it plays the device tree's role."""
    skip: set[int] = set()
    arch_cfg = ns.lookup("ROOT_ARCH_ZONE_CONFIG")
    if arch_cfg is not None:
        value = ns.eval(arch_cfg.file, arch_cfg.value, "ROOT_ARCH_ZONE_CONFIG")
        if isinstance(value, ParsedStruct):
            for key in ("rsdp_memory_region_id", "acpi_memory_region_id", "uefi_memory_region_id"):
                if isinstance(value.fields.get(key), int):
                    skip.add(value.fields[key])
    facts = DeviceTreeFacts(f"{board_rs.path} (the e820 map hvisor builds from ROOT_ZONE_MEMORY_REGIONS)")
    for i, r in enumerate(zone.regions):
        if r.kind is RegionKind.RAM and i not in skip:
            facts.memory.append(Span(r.gstart, r.gend, Location(r.source.path, r.source.line,
                                                                detail=f"e820 RAM entry from {r.source.detail} "
                                                                       "(src/arch/x86_64/boot.rs set_e820_entries)")))
    return facts


def _read_dt(path: Path) -> DeviceTreeFacts:
    from hvcheck.layout.loaders.devicetree import read_devicetree

    return read_devicetree(path)


def _dt_dirs(ctx: _Ctx) -> list[Path]:
    if ctx.board_dir is not None:
        dirs = [ctx.board_dir / "image" / "dts", ctx.board_dir / "image", ctx.board_dir / "dts", ctx.board_dir / "configs"]
    else:
        base = ctx.repo if ctx.repo is not None else ctx.board_file.parent.parent.parent
        dirs = [base / "images" / ctx.arch / "devicetree"]
    return [d for d in dirs if d.is_dir()]


def _root_dt_path(ctx: _Ctx) -> Path | None:
    dirs = _dt_dirs(ctx)
    if ctx.board_dir is not None:
        mk = ctx.board_dir / "platform.mk"
        try:
            text = mk.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        m = re.search(r"^\s*zone0_dtb\s*:?=\s*(\S+)", text, re.M)
        if m:
            found = _find_dt(dirs, Path(m.group(1)).name)
            if found is not None:
                return found
        for d in dirs:
            for pattern in ("zone0.dts", "zone0.dtb", "zone0*.dts", "zone0*.dtb", "*zone0*.dts"):
                hits = sorted(d.glob(pattern))
                if hits:
                    return hits[0]
        return None
    for d in dirs:
        for pattern in (f"{ctx.board_name}-{ctx.arch}.dts", f"{ctx.board_name}*.dts", "linux1.dts"):
            hits = sorted(d.glob(pattern))
            if hits:
                ctx.notes.append(f"root device tree: {hits[0]} (matched by name in the earlier layout)")
                return hits[0]
        only = sorted(d.glob("*.dts"))
        if len(only) == 1:
            ctx.notes.append(f"root device tree: {only[0]} (the only .dts for {ctx.arch} in the earlier layout)")
            return only[0]
    return None


def _find_dt(dirs: list[Path], basename: str) -> Path | None:
    stem = Path(basename).stem
    for d in dirs:
        for cand in (d / f"{stem}.dts", d / f"{stem}.dtb", d / basename):
            try:
                if cand.is_file():
                    return cand
            except (OSError, ValueError):
                continue  # a name from the JSON the OS rejects (too long) is not a file
    return None


def _zone_json_paths(ctx: _Ctx) -> list[Path]:
    if ctx.board_dir is not None:
        cfg = ctx.board_dir / "configs"
        return sorted(cfg.glob("*.json")) if cfg.is_dir() else []
    out = []
    for d in _dt_dirs(ctx):
        for p in sorted(d.glob("*.json")):
            if ctx.board_name in p.stem or p.stem.startswith("linux"):
                out.append(p)
            else:
                ctx.notes.append(f"{p}: not attributed to board {ctx.board_name} (earlier layout shares "
                                 "images/<arch>/devicetree between boards)")
    return out


def _zone_configs(ctx: _Ctx, board: Board) -> dict[int | None, list[Zone]]:
    groups: dict[int | None, list[Zone]] = {}
    paths = sorted(_zone_json_paths(ctx), key=lambda p: (len(p.name), p.name))
    for path in paths:
        doc = read_json_lines(path)
        if not isinstance(doc.value, dict) or "memory_regions" not in doc.value:
            keys = ", ".join(list(doc.value)[:4]) if isinstance(doc.value, dict) else type(doc.value).__name__
            ctx.notes.append(f"{path}: not a zone config (no memory_regions; keys: {keys}); skipped")
            continue
        zone = _zone_from_json(ctx, path, doc, board)
        groups.setdefault(zone.zone_id, []).append(zone)
    return groups


def _hex(path: Path, v: JValue | None, what: str) -> int:
    if v is None:
        raise InputError(str(path), f"{what} missing")
    val = v.value
    if isinstance(val, bool):
        raise InputError(str(path), f"{what}: expected a number, got {val}", v.line)
    if isinstance(val, int):
        if not 0 <= val < U64_LIMIT:
            raise InputError(str(path), f"{what}: {val} does not fit in 64 bits", v.line)
        return val
    if isinstance(val, str):
        try:
            s = val.strip().replace("_", "").lower()
            n = int_of(s[2:], 16) if s.startswith("0x") else int_of(s, 10)
        except ValueError:
            pass
        else:
            if not 0 <= n < U64_LIMIT:
                raise InputError(str(path), f"{what}: {val} does not fit in 64 bits", v.line)
            return n
    raise InputError(str(path), f"{what}: expected a number or hex string, got {val!r}", v.line)


_JSON_KINDS = {"ram": RegionKind.RAM, "io": RegionKind.IO, "virtio": RegionKind.EMULATED,
               "ivc": RegionKind.SHARED, "shared": RegionKind.SHARED, "shm": RegionKind.SHARED,
               "rom": RegionKind.ROM, "reserved": RegionKind.RESERVED}


def _zone_from_json(ctx: _Ctx, path: Path, doc: JValue, board: Board) -> Zone:
    p = str(path)
    zid_v = doc.get("zone_id")
    zone_id = _hex(path, zid_v, "zone_id") if zid_v is not None else None
    name_v = doc.get("name")
    name = name_v.value if name_v is not None and isinstance(name_v.value, str) else path.stem
    zone = Zone(name, zone_id, False, Location(p, doc.line, detail=path.name))
    regions = doc.get("memory_regions")
    if regions is None or not isinstance(regions.value, list):
        raise InputError(p, "memory_regions must be a list", regions.line if regions else doc.line)
    for i, r in enumerate(regions.value):
        if not isinstance(r.value, dict):
            raise InputError(p, f"memory_regions[{i}] must be an object", r.line)
        tv = r.get("type")
        tname = str(tv.value).lower() if tv is not None else ""
        kind = _JSON_KINDS.get(tname)
        if kind is None:
            raise InputError(p, f"memory_regions[{i}]: unknown type {tv.value if tv else None!r} "
                                f"(ram, io, virtio{', ivc, shared' if tname else ''})", (tv or r).line)
        start = _hex(path, r.get("physical_start"), f"memory_regions[{i}].physical_start")
        size = _hex(path, r.get("size"), f"memory_regions[{i}].size")
        vs = r.get("virtual_start")
        vstart = _hex(path, vs, f"memory_regions[{i}].virtual_start") if vs is not None else start
        if size <= 0:
            raise InputError(p, f"memory_regions[{i}]: size {size:#x} is not positive", r.line)
        zone.add_region(Region(kind, start, size, Location(p, r.line, detail=f"memory_regions[{i}]"),
                               None if vstart == start else vstart))
    cpus = doc.get("cpus")
    if cpus is not None and isinstance(cpus.value, list):
        zone.cpus = [Numbered(_hex(path, c, "cpus[]"), Location(p, c.line, detail="cpus")) for c in cpus.value]
    irqs = doc.get("interrupts")
    if irqs is not None and isinstance(irqs.value, list):
        zone.irqs = [Numbered(_hex(path, c, "interrupts[]"), Location(p, c.line, detail="interrupts"))
                     for c in irqs.value]
    for key, kind in (("kernel_load_paddr", ImageKind.KERNEL), ("dtb_load_paddr", ImageKind.DTB),
                      ("initrd_load_paddr", ImageKind.INITRD)):
        v = doc.get(key)
        if v is not None:
            addr = _hex(path, v, key)
            if addr:
                zone.images.append(LoadImage(kind, addr, None, Location(p, v.line, detail=key)))
    arch = doc.get("arch_config")
    if arch is not None and isinstance(arch.value, dict):
        _json_devices(path, arch, board, "arch_config")
    pci = doc.get("pci_config")
    if pci is not None:
        items = pci.value if isinstance(pci.value, list) else [pci]
        for i, item in enumerate(items):
            if isinstance(item.value, dict):
                for window, kind in (("ecam", "pci-ecam"), ("mem32", "pci-mem32"), ("mem64", "pci-mem64"),
                                     ("io", "pci-io")):
                    b, s = item.get(f"{window}_base"), item.get(f"{window}_size")
                    if b is not None and s is not None:
                        base, size = _hex(path, b, f"pci_config.{window}_base"), _hex(path, s, f"pci_config.{window}_size")
                        if size > 0:
                            _add_device(board, Device(f"pci{i if len(items) > 1 else ''} {window}".replace(" ", " "),
                                                      kind, base, base + size,
                                                      Location(p, b.line, detail=f"pci_config.{window}_base")))
    dtb_v = doc.get("dtb_filepath")
    dt_path = None
    if dtb_v is not None and isinstance(dtb_v.value, str) and dtb_v.value:
        dt_path = _find_dt(_dt_dirs(ctx), Path(dtb_v.value).name)
    if dt_path is None:
        dt_path = _find_dt(_dt_dirs(ctx), path.stem + ".dts")
        if dt_path is not None and dtb_v is not None:
            ctx.notes.append(f"zone {name}: dtb_filepath {dtb_v.value!r} ({p}:{dtb_v.line}) not in the checkout; "
                             f"using {dt_path} (same name as the zone config)")
    if dt_path is not None:
        zone.devicetree = _read_dt(dt_path)
    else:
        what = f"dtb_filepath {dtb_v.value!r} ({p}:{dtb_v.line})" if dtb_v is not None else "no dtb_filepath"
        ctx.notes.append(f"zone {name}: {what}: no matching .dts/.dtb in the board's image/dts; the device-tree "
                         "checks (M002, M003) do not run for it")
    return zone


def _json_devices(path: Path, arch: JValue, board: Board, what: str) -> None:
    fields = arch.value
    for key, v in fields.items():
        if not key.endswith("_base"):
            continue
        dev = key[: -len("_base")]
        kind = _device_kind(dev)
        size_v = fields.get(f"{dev}_size")
        if kind is None or size_v is None:
            continue
        base, size = _hex(path, v, f"{what}.{key}"), _hex(path, size_v, f"{what}.{dev}_size")
        if size > 0 and (base or kind == "gic"):
            _add_device(board, Device(dev, kind, base, base + size, Location(str(path), v.line, detail=f"{what}.{key}")))


# ---------------------------------------------------------------------------------------------
# registration (hvcheck.layout.loaders)

# Files a user (or pre-commit, which passes changed file names) may give that belong to one board.
_BOARD_FILE_DEPTH = 3


def board_of_file(path: Path) -> Path | None:
    """The board directory that ``path`` (board.rs, linker.ld, configs/zone1.json, image/dts/x.dts,
    platform.mk, ...) belongs to, or None."""
    for cand in list(Path(path).parents)[:_BOARD_FILE_DEPTH]:
        if (cand / "board.rs").is_file() and cand.parent.name in ARCHES:
            return cand
    return None


class HvisorFormat:
    name = "hvisor"
    description = "an hvisor checkout, board directory (platform/<arch>/<board>) or file inside a board"
    options = frozenset({"elf", "board", "root_dts", "image_size"})

    def sniff(self, path: Path) -> int:
        if path.is_dir():
            return 50 if is_hvisor_tree(path) else 0
        if is_hvisor_tree(path):
            return 50
        return 30 if board_of_file(path) is not None else 0

    def load(self, paths: Sequence[Path], options: LoadOptions) -> System:
        if len(paths) != 1:
            raise InputError(str(paths[1]), "an hvisor board is one directory; give one path (or --all)")
        path = paths[0]
        if path.is_file() and not is_hvisor_tree(path):
            board_dir = board_of_file(path)
            assert board_dir is not None  # sniff() claimed it
            path = board_dir
        target = resolve_board(path, options.board) if options.board else path
        if not options.board and path.is_dir() and not (path / "board.rs").is_file():
            boards = discover_boards(path)
            if len(boards) > 1:
                names = ", ".join(b.name for b in boards)
                raise InputError(str(path), f"an hvisor checkout with {len(boards)} boards: give --board NAME or "
                                            f"--all (boards: {names})")
            if boards:
                target = boards[0].path
        return load_hvisor_board(target, elf=options.elf, root_dts=options.root_dts,
                                 image_size=options.image_size or DEFAULT_IMAGE_SIZE)

    def system_of(self, path: Path) -> Path:
        """A file inside a board belongs to its board directory."""
        if path.is_file() and not is_hvisor_tree(path):
            return board_of_file(path) or path
        return path

    def discover(self, path: Path, options: LoadOptions | None = None) -> list[Target]:
        if path.is_file():
            return []
        # A board directory given alone: its repository root is found by walking up.
        root = None if (path / "board.rs").is_file() else path
        return [Target(b.name, (b.path,), root) for b in discover_boards(path)]

    def load_target(self, target: Target, options: LoadOptions) -> System:
        return load_hvisor_board(target.paths[0], repo_root=target.root,
                                 image_size=options.image_size or DEFAULT_IMAGE_SIZE)


FORMAT = HvisorFormat()
