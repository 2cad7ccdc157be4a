"""Jailhouse system and cell configurations (``.cell`` binaries and ``.c`` sources) as one layout.

``hvcheck layout SYSTEM.cell CELL.cell ...`` checks one set; ``hvcheck layout TREE --all`` every
set of a Jailhouse tree (or of a directory of configs), paired by name (see :mod:`.tree`);
``--board NAME`` picks one set of a tree. Reading: :mod:`.cellfile` (binaries, revisions 12-14),
:mod:`.source` (building ``.c`` configs and mapping entries to source lines), :mod:`.build` (the
set as the model, with Jailhouse's semantics), :mod:`.scenario` (which cells run together).
"""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.inputs import read_capped
from hvcheck.layout.loaders import LoadOptions, Target
from hvcheck.layout.loaders.jailhouse import cellfile as cf
from hvcheck.layout.loaders.jailhouse import source, tree
from hvcheck.layout.loaders.jailhouse.build import ConfigFile, Scenario, build_system
from hvcheck.layout.loaders.jailhouse.provenance import Provenance
from hvcheck.layout.loaders.jailhouse.scenario import ScenarioFile, parse_together, read_scenario
from hvcheck.layout.model import InputProblem, System

MAX_CACHED_CONFIGS = 1024   # parsed/compiled configs kept between the sets of one --all run

_CACHE: dict[tuple[str, int, int, str], ConfigFile] = {}
# --all builds the .c configs of later sets in the background while earlier sets are checked.
_PENDING: dict[str, Future[ConfigFile]] = {}
_POOL: ThreadPoolExecutor | None = None


def prefetch(paths: Sequence[Path], options: LoadOptions) -> None:
    """Start building ``paths`` (.c configs) in worker threads; read_config picks the results up.
    gcc does the work, so threads run in parallel."""
    global _POOL
    todo = [p for p in paths if p.suffix == ".c" and str(p) not in _PENDING]
    if not todo or not _can_build():
        return
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1)), thread_name_prefix="jh-build")
    for p in todo:
        _PENDING[str(p)] = _POOL.submit(_read_config, p, options)


def read_config(path: Path, options: LoadOptions) -> ConfigFile:
    """One config file, parsed (and built first when it is a .c source)."""
    pending = _PENDING.pop(str(path), None)
    if pending is not None:
        return pending.result()
    return _read_config(Path(path), options)


def _read_config(path: Path, options: LoadOptions) -> ConfigFile:
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, str(options.jailhouse_src or ""))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    if path.suffix == ".c":
        src_tree = source.find_tree(path, options.jailhouse_src)
        built = source.build(path, src_tree)
        data, binary = built.binary, False
    else:
        data, binary, built = read_capped(path, cf.MAX_CELL_FILE_BYTES, "a Jailhouse config"), True, None
    name = str(path)
    if cf.read_kind(data, name) == "system":
        sysconf = cf.parse_system(data, name)
        prov = Provenance(name, sysconf.root, sysconf, binary=binary)
        cfg = ConfigFile(name, path.stem, prov, sysconf)
    else:
        prov = Provenance(name, cf.parse_cell(data, name), binary=binary)
        cfg = ConfigFile(name, path.stem, prov)
    if built is not None:
        prov.entries, prov.fields = built.entries, built.fields
    if len(_CACHE) >= MAX_CACHED_CONFIGS:
        _CACHE.clear()
    _CACHE[key] = cfg
    return cfg


def _scenario(options: LoadOptions, system: ConfigFile) -> Scenario | None:
    groups = []
    for sys_name, names, src in _together_statements(options):
        if sys_name is None or sys_name in (system.stem, system.desc.name):
            groups.append((names, src))
    return Scenario(groups) if groups else None


def _together_statements(options: LoadOptions) -> list[tuple[str | None, list[str], Location]]:
    out: list[tuple[str | None, list[str], Location]] = list(parse_together(options.together))
    if options.scenario is not None:
        out.extend(read_scenario(options.scenario).together)
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a set is read and built: a large set allocates
    about ten objects per region (10^6 for 10^5 regions), none of them in a reference cycle, and the
    collector, triggered every 700 allocations, walked the growing heap again and again (a quarter
    of the whole run on a generated set of 10^5 regions). Memory stays bounded by the input: only
    cycles wait, and the collector runs again as soon as the set is built.

    The heap is then frozen (gc.freeze), so the checks that follow do not walk the new model again
    either (0.2 s at 10^5 regions). Frozen objects are still freed by reference counting; only
    garbage cycles that exist at that moment wait, until the next set unfreezes them (every set
    starts by gc.unfreeze, so one --all run or one process never accumulates them)."""
    was_enabled = gc.isenabled()
    gc.unfreeze()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()


def load_set(paths: Sequence[Path], options: LoadOptions, name: str | None = None) -> System:
    """One system config and its cells; a cell that cannot be read is reported (E001) and the others
    are still checked. The system config may be given anywhere among the paths."""
    with _collector_paused():
        return _load_set(paths, options, name)


def _load_set(paths: Sequence[Path], options: LoadOptions, name: str | None = None) -> System:
    configs: list[ConfigFile] = []
    unread: list[InputProblem] = []
    errors: list[tuple[Path, InputError]] = []
    for p in paths:
        try:
            configs.append(read_config(Path(p), options))
        except InputError as exc:
            errors.append((Path(p), exc))
    systems = [c for c in configs if c.system is not None]
    sys_errors = [(p, e) for p, e in errors if _looks_like_system(p)]
    if sys_errors and not systems:
        raise sys_errors[0][1]
    if not systems:
        if errors:
            raise errors[0][1]
        raise InputError(str(paths[0]), "no Jailhouse system config (JHSYS) among the inputs: give the system config "
                                        "and then the cell configs that go with it")
    if len(systems) > 1:
        raise InputError(systems[1].path, f"a second system config (the first is {systems[0].path}): a set has one "
                                          "system config; check each set separately, or a whole tree with --all")
    for _, err in errors:
        unread.append(InputProblem(err.path, err.line, err.message, "every layout check involving this config"))
    system = systems[0]
    cells = [c for c in configs if c.system is None]
    return build_system(system, cells, unread=unread, scenario=_scenario(options, system), name=name)


def _looks_like_system(path: Path) -> bool:
    return tree.config_kind(path) == "system"


def _can_build() -> bool:
    return shutil.which("gcc") is not None and shutil.which("objcopy") is not None


class JailhouseFormat:
    name = "jailhouse"
    description = "Jailhouse system/cell configs (.cell or .c) or a Jailhouse tree"
    options = frozenset({"jailhouse_src", "together", "scenario", "board"})

    def sniff(self, path: Path) -> int:
        if path.is_dir():
            if source.is_tree(path):
                return 60
            return 40 if tree.has_configs(path) else 0
        if not path.is_file():
            return 0                    # a FIFO or device: never opened here (reading it could block)
        if path.suffix in tree.SUFFIXES or path.suffix == "":
            return 90 if tree.config_kind(path) is not None else 0
        try:
            with open(path, "rb") as fh:
                head = fh.read(6)
        except OSError:
            return 0
        return 90 if head[:5] in (b"JHSYS", b"JHCLL") or head == b"JHCELL" else 0

    def load(self, paths: Sequence[Path], options: LoadOptions) -> System:
        if len(paths) == 1 and Path(paths[0]).is_dir():
            targets = self._sets(Path(paths[0]), options)
            if options.board:
                hit = [t for t in targets if options.board in (t.name, t.name.split("/")[-1])]
                if not hit:
                    raise InputError(str(paths[0]), f"no Jailhouse system config named {options.board!r} (sets: "
                                                    f"{', '.join(t.name for t in targets)})")
                return self.load_target(hit[0], options)
            if len(targets) == 1:
                return self.load_target(targets[0], options)
            names = ", ".join(t.name for t in targets) or "none"
            raise InputError(str(paths[0]), f"a tree with {len(targets)} Jailhouse system configs: give --board NAME, "
                                            f"--all, or the system and cell files (sets: {names})")
        if options.board:
            raise InputError(str(paths[0]), "--board picks a set of a Jailhouse tree; with config files, give the "
                                            "system config and its cells")
        return load_set(paths, options)

    def discover(self, path: Path, options: LoadOptions | None = None) -> list[Target]:
        """Every set of the tree, for --all: their .c configs start building in the background
        (one set, --board, builds only its own)."""
        targets = self._sets(path, options)
        prefetch([p for t in targets for p in t.paths], options or LoadOptions())
        return targets

    def _sets(self, path: Path, options: LoadOptions | None) -> list[Target]:
        if not path.is_dir():
            return []
        explicit: dict[str, list[str]] = {}
        scenario_file = options.scenario if options is not None else None
        if scenario_file is not None:
            parsed: ScenarioFile = read_scenario(scenario_file)
            explicit = {k: [n for n, _ in v] for k, v in parsed.pairs.items()}
        prefer_source = _can_build()
        targets: list[Target] = []
        seen = 0
        for directory in tree.config_dirs(path):
            refs = tree.scan(directory, prefer_source)
            seen += len(refs)
            if seen > tree.MAX_TREE_CONFIGS:
                raise InputError(str(path), f"more than {tree.MAX_TREE_CONFIGS} config files (limit, `hvcheck docs limits`)")
            if not any(r.kind == "system" for r in refs):
                continue
            sets, unpaired = tree.pair(refs, directory, explicit)
            rel = os.path.relpath(directory, path) if directory != path else directory.name
            for k, s in enumerate(sets):
                how = "; ".join(f"{c.stem} ({s.how[c.stem]})" for c in s.cells) or "no cells"
                notes = [f"set: system config {s.system.path.name} with {how}"]
                if k == 0 and unpaired:
                    notes.append(f"cells in {rel} that go with no system config by name and were not checked: "
                                 f"{', '.join(c.stem for c in unpaired)} (place them with 'pair SYSTEM: CELL ...' "
                                 "in --scenario FILE)")
                targets.append(Target(f"{directory.name}/{s.system.stem}", (s.system.path, *(c.path for c in s.cells)),
                                      path, tuple(notes)))
        return targets

    def load_target(self, target: Target, options: LoadOptions) -> System:
        return load_set(target.paths, options, name=target.name)


FORMAT = JailhouseFormat()
