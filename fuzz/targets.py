"""What to fuzz: one target per reader, the command that reads it, and the valid fixtures whose
mutations are fed to it. A target whose fixtures are absent is reported as skipped, never passed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    name: str
    argv: tuple[str, ...]            # "{input}" is replaced by the mutated file (or the tree's copy)
    seeds: tuple[str, ...]           # globs relative to ROOT: the valid inputs to mutate
    tree: str | None = None          # for inputs that live in a directory: copy it, mutate one file
    binary: bool = False

    def seed_files(self) -> list[Path]:
        files: list[Path] = []
        for pattern in self.seeds:
            files.extend(p for p in sorted(ROOT.glob(pattern)) if p.is_file())
        return files


TARGETS: list[Target] = [
    Target("layout-yaml", ("layout", "{input}"), ("hvcheck/demo/examples/layout/*.yaml",
                                                  "tests/fixtures/layout/*.yaml")),
    Target("layout-json", ("layout", "{input}"), ("tests/fixtures/layout/*.json",)),
    Target("board-rs", ("layout", "{tree}"), ("tests/fixtures/hvisor/**/board.rs",), tree="board"),
    Target("zone-json", ("layout", "{tree}"), ("tests/fixtures/hvisor/**/configs/*.json",), tree="board"),
    Target("dts", ("layout", "{tree}"), ("tests/fixtures/hvisor/**/*.dts",), tree="board"),
    Target("dtb", ("layout", "{tree}"), ("tests/fixtures/hvisor/**/*.dtb",), tree="board", binary=True),
    Target("hv-elf", ("layout", "{tree}", "--elf", "{input}"), ("tests/fixtures/hvisor/**/*.elf",), tree="board",
           binary=True),
    Target("riscv-elf", ("riscv", "{input}"), ("tests/fixtures/riscv/**/*.elf",), binary=True),
    Target("patch", ("backport", "{input}", "{input}"), ("hvcheck/demo/examples/backport/*.patch",
                                                         "tests/fixtures/backport/**/*.patch")),
    Target("cpuid-dump", ("cpuid", "{input}"), ("tests/fixtures/x86/*.txt", "tests/fixtures/x86/*cpuid*.json",
                                                 "hvcheck/demo/examples/x86/*cpuid*")),
    Target("ioctl-trace", ("ioctl", "--trace", "{input}"), ("tests/fixtures/x86/*trace*",
                                                            "hvcheck/demo/examples/x86/*trace*")),
    Target("conformance-results", ("riscv-conformance", "--results", "{input}"),
           ("hvcheck/demo/examples/riscvconf/*.bin*",), binary=True),
    Target("triage-log", ("triage", "{input}"), ("tests/fixtures/triage/**/*.log",
                                                 "hvcheck/demo/examples/triage/**/*.log")),
]


def by_name(name: str) -> Target:
    for t in TARGETS:
        if t.name == name:
            return t
    raise KeyError(f"unknown fuzz target {name!r}; known: {', '.join(t.name for t in TARGETS)}")
