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
    tree: str | None = None          # a directory to copy whole (an hvisor checkout); the input is inside it
    board: str | None = None         # the board directory "{board}" names, when not the input's own
    binary: bool = False

    def seed_files(self) -> list[Path]:
        files: list[Path] = []
        for pattern in self.seeds:
            files.extend(p for p in sorted(ROOT.glob(pattern)) if p.is_file())
        return files


HVISOR = "tests/fixtures/hvisor/repo"
CLEAN_BOARD = f"{HVISOR}/platform/aarch64/clean"

TARGETS: list[Target] = [
    Target("layout-yaml", ("layout", "{input}"), ("hvcheck/demo/examples/layout/*.yaml",
                                                  "tests/fixtures/layout/*.yaml")),
    Target("layout-json", ("layout", "{input}"), ("tests/fixtures/layout/*.json",)),
    # hvisor inputs live inside a checkout: the whole fixture repo is copied, one file mutated.
    Target("board-rs", ("layout", "{tree}"), (f"{HVISOR}/platform/*/*/board.rs",), tree=HVISOR),
    Target("zone-json", ("layout", "{tree}"), (f"{HVISOR}/platform/*/*/configs/*.json",), tree=HVISOR),
    Target("dts", ("layout", "{tree}"), (f"{HVISOR}/platform/*/*/image/dts/*.dts",), tree=HVISOR),
    Target("dtb", ("layout", "{root}/layout.yaml"), ("tests/fixtures/layout/dtb/zone0.dtb",),
           tree="tests/fixtures/layout/dtb", board="tests/fixtures/layout/dtb", binary=True),
    Target("linker-ld", ("layout", "{tree}"), (f"{HVISOR}/platform/*/*/linker.ld",), tree=HVISOR),
    Target("consts-rs", ("layout", "{board}"), (f"{HVISOR}/src/consts.rs",), tree=HVISOR, board=CLEAN_BOARD),
    Target("hv-elf", ("layout", "{board}", "--elf", "{input}"), ("tests/fixtures/hvisor/elf/*.elf",),
           tree=HVISOR, board=CLEAN_BOARD, binary=True),
    Target("riscv-elf", ("riscv", "{input}"), ("tests/fixtures/riscv/*.elf",), binary=True),
    Target("patch", ("backport", "{input}", "{input}"), ("hvcheck/demo/examples/backport/*.patch",
                                                         "tests/fixtures/backport/**/*.patch")),
    Target("cpuid-dump", ("cpuid", "{input}"), ("tests/fixtures/x86/guest-*.txt",
                                                 "hvcheck/demo/examples/x86/guest-cpuid-*.txt")),
    Target("ioctl-trace", ("ioctl", "--trace", "{input}"), ("tests/fixtures/x86/kvm/strace-*.txt",
                                                            "hvcheck/demo/examples/x86/*-*ioctl*.txt",
                                                            "hvcheck/demo/examples/x86/strace-*.txt")),
    Target("kvm-probe", ("kvm", "--from", "{input}"), ("tests/fixtures/kvm/*.json",
                                                      "hvcheck/demo/examples/kvm/*.json")),
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
