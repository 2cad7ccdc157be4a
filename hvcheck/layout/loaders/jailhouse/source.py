"""Jailhouse ``.c`` configs: built as Jailhouse's own build does (configs/Makefile: host gcc ``-c``
with the tree's include paths, then ``objcopy -O binary``), and every memory region, irqchip and
PCI device mapped back to its ``file:line`` and the comment naming it.

The mapping reads ``gcc -E`` output with the same flags: its ``# N "file"`` line markers give
each token's original line (through ``#include``d wrappers and macro expansions, which keep the
line of their invocation); a small tokenizer walks the config's initializer, counting the entries
of each array member. The comment is read from the original file: one on the entry's first line,
else comment-only lines right above it; the entries of one macro expansion share it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.inputs import read_capped, special_kind
from hvcheck.layout.loaders.jailhouse.provenance import Origin

MAX_SOURCE_BYTES = 4 << 20        # one .c config (the largest shipped is 40 KiB)
MAX_PREPROCESSED_BYTES = 64 << 20  # its gcc -E output
GCC_TIMEOUT = 120                 # seconds for one gcc/objcopy run

ARCH_DIRS = ("x86", "arm", "arm64")
ARCH_MACROS = {"JAILHOUSE_X86": "x86", "JAILHOUSE_ARM64": "arm64", "JAILHOUSE_ARM": "arm"}
ENTRY_TYPES = {"jailhouse_memory": "mem", "jailhouse_irqchip": "irqchip", "jailhouse_pci_device": "pci"}
HEADER_TYPES = ("jailhouse_system", "jailhouse_cell_desc")
INSTALL_HINT = "install gcc and binutils (Debian/Ubuntu: apt-get install gcc binutils)"


def is_tree(path: Path) -> bool:
    return (path / "include" / "jailhouse" / "cell-config.h").is_file() and (path / "hypervisor").is_dir()


def find_tree(config: Path, explicit: Path | None) -> Path:
    """The Jailhouse source tree to build ``config`` against: --jailhouse-src, or the tree the file
    lives in."""
    if explicit is not None:
        if not explicit.is_dir():
            try:
                kind = special_kind(os.stat(explicit).st_mode) or "a file"
            except OSError as exc:
                raise InputError(str(explicit), f"cannot read: {exc.strerror or exc}") from None
            raise InputError(str(explicit), f"is {kind}, not a Jailhouse source tree (a directory)")
        if not is_tree(explicit):
            raise InputError(str(explicit), "not a Jailhouse source tree (no include/jailhouse/cell-config.h)")
        return explicit
    for parent in Path(config).resolve().parents:
        if is_tree(parent):
            return parent
    raise InputError(str(config), "a .c config is built against a Jailhouse source tree: give --jailhouse-src DIR "
                                  "(or the compiled .cell file)")


def config_arch(config: Path, text: str) -> str:
    """The arch include directory to build with: the configs/<arch>/ directory the file is in, else the
    architecture the config names, else x86 (the structs are the same for every architecture)."""
    if config.parent.name in ARCH_DIRS:
        return config.parent.name
    for macro, arch in ARCH_MACROS.items():
        if re.search(rf"\.architecture\s*=\s*{macro}\b", text):
            return arch
    return "x86"


def _flags(tree: Path, arch: str) -> list[str]:
    flags = ["-Wall", "-Wextra", "-Werror", "-D__LINUX_COMPILER_TYPES_H",
             "-I", str(tree / "hypervisor" / "arch" / arch / "include"),
             "-I", str(tree / "hypervisor" / "include"), "-I", str(tree / "include")]
    generated = tree / "include" / "jailhouse" / "config.h"
    if generated.is_file():
        flags += ["-include", str(generated)]
    return flags


def _tool(name: str, config: Path) -> str:
    path = shutil.which(name)
    if path is None:
        raise InputError(str(config), f"building a .c config needs {name}, which is not installed: {INSTALL_HINT}; "
                                      ".cell binaries are read without it")
    return path


_GCC_ERROR = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:\d+:)? (?:fatal )?error: (?P<msg>.*)$", re.M)


def _run(cmd: list[str], config: Path, what: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, LC_ALL="C")
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=GCC_TIMEOUT, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(str(config), f"{what} did not finish within {GCC_TIMEOUT} s") from None
    except OSError as exc:
        raise InputError(str(config), f"{what} could not run: {exc}") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        m = _GCC_ERROR.search(err)
        if m:
            raise InputError(m.group("file"), f"{what} failed: {m.group('msg')}", int(m.group("line")))
        first = next((ln for ln in err.splitlines() if ln.strip()), "no message")
        raise InputError(str(config), f"{what} failed: {first}")
    return proc


@dataclass
class Built:
    """A compiled config: the binary image and the source origin of its entries."""

    binary: bytes
    entries: dict[tuple[str, int], Origin]
    fields: dict[str, Origin]
    arch_dir: str


def build(config: Path, tree: Path) -> Built:
    """Compile ``config`` like configs/Makefile does; map its entries to their source lines."""
    text = read_capped(config, MAX_SOURCE_BYTES, "a Jailhouse .c config").decode("utf-8", "replace")
    arch = config_arch(config, text)
    gcc = _tool("gcc", config)
    objcopy = _tool("objcopy", config)
    flags = _flags(tree, arch)
    with tempfile.TemporaryDirectory(prefix="hvcheck-jh-") as tmp:
        pre = Path(tmp) / "config.i"
        obj = Path(tmp) / "config.o"
        cell = Path(tmp) / "config.cell"
        _run([gcc, "-E", *flags, "-o", str(pre), str(config)], config, "gcc -E")
        # Compile what was preprocessed (the same translation unit, one preprocessing run).
        _run([gcc, "-c", "-O2", *flags, "-fpreprocessed", "-x", "c", "-o", str(obj), str(pre)], config, "gcc -c")
        _run([objcopy, "-O", "binary", "--remove-section=.note.gnu.property", str(obj), str(cell)], config,
             "objcopy -O binary")
        binary = read_capped(cell, 64 << 20, "a compiled Jailhouse config")
        preprocessed = read_capped(pre, MAX_PREPROCESSED_BYTES, "preprocessed config").decode("utf-8", "replace")
    if not binary:
        raise InputError(str(config), "the compiled config is empty (no initialised config variable in .data)")
    entries, fields = map_entries(preprocessed, config)
    return Built(binary, entries, fields, arch)


# ---------------------------------------------------------------- preprocessed source -> entry lines


@dataclass(frozen=True)
class Tok:
    text: str
    file: str
    line: int


_MARKER = re.compile(r'^#\s*(?:line\s+)?(\d+)\s+"((?:[^"\\]|\\.)*)"')
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<chr>'(?:[^'\\\n]|\\.)*')
  | (?P<num>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>\.\.\.|->|<<|>>|[{}\[\]();,=.&|<>+\-*/%!~?:^#])
  | (?P<other>.)
""", re.X)


def tokenize(preprocessed: str) -> list[Tok]:
    toks: list[Tok] = []
    file, line = "", 0
    for raw in preprocessed.split("\n"):
        if raw.startswith("#"):
            m = _MARKER.match(raw)
            if m:
                file, line = m.group(2).encode().decode("unicode_escape"), int(m.group(1))
                continue
            line += 1
            continue  # #pragma and the like
        for m in _TOKEN.finditer(raw):
            if m.lastgroup != "ws":
                toks.append(Tok(m.group(), file, line))
        line += 1
    return toks


def _match_close(toks: list[Tok], i: int) -> int:
    """Index of the bracket closing the one at ``i``."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    stack = [pairs[toks[i].text]]
    j = i + 1
    while j < len(toks):
        t = toks[j].text
        if t in pairs:
            stack.append(pairs[t])
        elif stack and t == stack[-1]:
            stack.pop()
            if not stack:
                return j
        j += 1
    raise ValueError("unbalanced brackets")


def _members(toks: list[Tok], lo: int, hi: int) -> list[tuple[str, str]]:
    """(type, name) of each member declared in the struct body toks[lo:hi] ("jailhouse_memory",
    "mem_regions"; "__u64", "cpus")."""
    out: list[tuple[str, str]] = []
    words: list[str] = []
    j = lo
    while j < hi:
        t = toks[j].text
        if t in "{([":
            j = _match_close(toks, j) + 1
            continue
        if t == ";":
            ids = [w for w in words if w != "__attribute__"]
            if len(ids) >= 2:
                typ = ids[1] if ids[0] in ("struct", "union") else " ".join(ids[:-1])
                out.append((typ, ids[-1]))
            words = []
        elif re.match(r"[A-Za-z_]\w*$", t):
            words.append(t)
        j += 1
    return out


def _elements(toks: list[Tok], lo: int, hi: int) -> list[tuple[int, int]]:
    """(index, first-token position) of each element of the initializer list toks[lo+1:hi] (lo is '{')."""
    out: list[tuple[int, int]] = []
    index = 0
    j = lo + 1
    start: int | None = None
    while j < hi:
        t = toks[j].text
        if start is None:
            if t == "[" and j + 3 < hi and toks[j + 2].text == "]" and toks[j + 3].text == "=":
                try:
                    index = int(toks[j + 1].text, 0)
                except ValueError:
                    pass
                j += 4
                continue
            start = j
            out.append((index, j))
        if t in "{([":
            j = _match_close(toks, j) + 1
            continue
        if t == ",":
            index += 1
            start = None
        j += 1
    return out


def _designators(toks: list[Tok], lo: int, hi: int) -> list[tuple[str, int, int]]:
    """(name, position of its '.', position of its value) for every `.name =` directly in toks[lo+1:hi]."""
    out = []
    j = lo + 1
    while j < hi:
        t = toks[j].text
        if t == "." and j + 2 < hi and toks[j + 2].text == "=":
            out.append((toks[j + 1].text, j, j + 3))
            j += 3
            continue
        if t in "{([":
            j = _match_close(toks, j) + 1
            continue
        j += 1
    return out


class _Comments:
    """The comment that names an entry, read from the original source lines."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.cache: dict[str, list[str]] = {}

    def lines(self, file: str) -> list[str]:
        if file not in self.cache:
            path = Path(file)
            if not path.is_absolute() and not path.exists():
                path = self.config.parent / file
            try:
                text = read_capped(path, MAX_SOURCE_BYTES, "a Jailhouse .c config").decode("utf-8", "replace")
            except InputError:
                text = ""
            self.cache[file] = text.split("\n")
        return self.cache[file]

    def at(self, file: str, line: int) -> tuple[str | None, bool]:
        """(comment, above): a comment on the line itself, or comment-only lines right above."""
        lines = self.lines(file)
        if not 1 <= line <= len(lines):
            return None, False
        same = re.findall(r"/\*(.*?)\*/", lines[line - 1])
        if same:
            return _clean(same[0]), False
        k = line - 2
        while k >= 0 and not lines[k].strip():
            k -= 1
        if k < 0:
            return None, False
        text = lines[k].strip()
        if text.endswith("*/"):
            body = [text]
            while "/*" not in body[0] and k > 0:
                k -= 1
                body.insert(0, lines[k].strip())
            joined = " ".join(body)
            if joined.startswith("/*"):
                return _clean(joined[2:joined.rfind("*/")]), True
        if text.startswith("//"):
            return _clean(text[2:]), True
        return None, False


def _clean(comment: str) -> str:
    text = " ".join(part.strip().lstrip("*").strip() for part in comment.split("\n"))
    text = " ".join(text.split())
    return text if len(text) <= 100 else text[:97] + "..."


def map_entries(preprocessed: str, config: Path) -> tuple[dict[tuple[str, int], Origin], dict[str, Origin]]:
    """Source origin of every memory region, irqchip and PCI device entry, and of the header fields."""
    toks = tokenize(preprocessed)
    entries: dict[tuple[str, int], Origin] = {}
    fields: dict[str, Origin] = {}
    comments = _Comments(config)
    try:
        found = _find_config(toks)
        if found is None:
            return entries, fields
        body_lo, body_hi, init_lo, init_hi = found
        members = _members(toks, body_lo + 1, body_hi)
        designated = _designators(toks, init_lo, init_hi)
        values: list[tuple[str, str, int]] = []   # (type, name, value position)
        if designated:
            by_name = {name: typ for typ, name in members}
            values = [(by_name.get(name, ""), name, pos) for name, _, pos in designated]
        else:
            values = [(typ, name, pos) for (typ, name), (_, pos) in zip(members, _elements(toks, init_lo, init_hi),
                                                                        strict=False)]
        counters: dict[str, int] = {}
        for typ, name, pos in values:
            if typ in ENTRY_TYPES and toks[pos].text == "{":
                kind = ENTRY_TYPES[typ]
                close = _match_close(toks, pos)
                base = counters.get(kind, 0)
                previous: Origin | None = None
                last = base
                for index, first in _elements(toks, pos, close):
                    t = toks[first]
                    if previous is not None and (previous.path, previous.line) == (t.file, t.line):
                        label = previous.label   # another entry of the same macro expansion
                    else:
                        label, _ = comments.at(t.file, t.line)
                    previous = entries[(kind, base + index)] = Origin(t.file, t.line, label)
                    last = max(last, base + index + 1)
                counters[kind] = last
            elif typ in HEADER_TYPES and toks[pos].text == "{":
                fields["root_cell" if typ == "jailhouse_system" else "cell"] = _origin(toks[pos])
                _header_fields(toks, pos, fields)
            elif name == "cpus" or typ in ("__u64", "unsigned long", "u64", "__u8", "u8"):
                fields.setdefault("cpus", _origin(toks[pos + 1] if toks[pos].text == "{" else toks[pos]))
    except (ValueError, IndexError):
        pass  # an initializer this walker does not follow: keep what was mapped (binary offsets elsewhere)
    return entries, fields


def _origin(t: Tok) -> Origin:
    return Origin(t.file, t.line)


def _find_config(toks: list[Tok]) -> tuple[int, int, int, int] | None:
    """(struct body '{', its '}', initializer '{', its '}') of the variable whose struct embeds a
    jailhouse_system or jailhouse_cell_desc."""
    i = 0
    while i < len(toks):
        if toks[i].text == "struct" and i + 1 < len(toks) and toks[i + 1].text == "{":
            lo = i + 1
            hi = _match_close(toks, lo)
            body = {t.text for t in toks[lo:hi]}
            if body & set(HEADER_TYPES):
                j = hi + 1
                while j < len(toks) and toks[j].text not in ("=", ";"):
                    if toks[j].text == "(":
                        j = _match_close(toks, j)
                    j += 1
                if j + 1 < len(toks) and toks[j].text == "=" and toks[j + 1].text == "{":
                    return lo, hi, j + 1, _match_close(toks, j + 1)
            i = hi + 1
            continue
        i += 1
    return None


_HEADER_FIELDS = {"hypervisor_memory", "debug_console", "platform_info", "pci_mmconfig_base", "gicd_base",
                  "gicc_base", "gich_base", "gicv_base", "gicr_base", "architecture", "name", "root_cell",
                  "cpu_set_size", "num_memory_regions", "console", "flags", "revision"}


def _header_fields(toks: list[Tok], lo: int, fields: dict[str, Origin]) -> None:
    hi = _match_close(toks, lo)
    for name, dot, value in _designators(toks, lo, hi):
        if name in _HEADER_FIELDS:
            fields.setdefault(name, _origin(toks[dot]))
        if name == "iommu_units" and toks[value].text == "{":
            close = _match_close(toks, value)
            for index, first in _elements(toks, value, close):
                fields.setdefault(f"iommu_units[{index}]", _origin(toks[first]))
        elif toks[value].text == "{":
            if name == "root_cell":
                fields["root_cell"] = _origin(toks[dot])
            _header_fields(toks, value, fields)
