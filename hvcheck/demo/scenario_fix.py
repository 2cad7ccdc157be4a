"""Seed 001, fixed three ways: `hvcheck fix` on the stomping layout, one step per strategy. Each
step's findings are the re-check of the edited layout; its preamble is the diff."""

from __future__ import annotations

from collections.abc import Callable

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding

SEED = "001"
ORDER = 30  # position within the seed: problem, then diagnosis detail, then fix
TITLE = "the three fixes for hvisor inside the root zone's RAM: punch, reserve, relocate"

STOMP = EXAMPLES / "layout" / "seed001-stomp.yaml"
BOARD = EXAMPLES / "hvisor" / "platform" / "aarch64" / "rk-stomp"   # the hvisor scenario's board (read only)


def _step(strategy: str, target=STOMP) -> tuple[Callable[[], list[Finding]], Callable[[], str]]:
    cache: dict[str, object] = {}

    def result():
        if "r" not in cache:
            from hvcheck.fix.engine import run_fix

            cache["r"] = run_fix(target, strategy)
        return cache["r"]

    def run() -> list[Finding]:
        return list(result().after)

    def preamble() -> str:
        r = result()
        lines = [f"  {i}. {s}" for i, s in enumerate(r.explanations(), 1)]
        lines += [f"  REFUSED: {why}" for why in r.refused]
        return "\n".join(lines) + "\n\n" + r.diff() + "\nre-check of the edited layout:"

    return run, preamble


def steps() -> list[DemoStep]:
    out = []
    for strategy, expect, explain in (
        ("punch", set(),
         "punch: split the root RAM around hvisor (+ 8 MiB headroom) and reserve the hole no-map in the root "
         "device tree, so the kernel never touches the now unmapped range. Re-check: clean."),
        ("reserve", {"M001", "M013"},
         "reserve: a no-map /reserved-memory entry over the WHOLE extent (image + per-CPU + pool) keeps the "
         "root Linux allocator off hvisor (M002 gone). Expected to remain: M001, because the stage-2 map still "
         "lets the guest write hvisor's memory, and M013, because root RAM still starts inside hvisor. That is "
         "why reserve alone is never the whole fix."),
        ("relocate", set(),
         "relocate: move BASE_ADDRESS to the lowest 2 MiB-aligned free place with 8 MiB headroom, clear of every "
         "zone region, device and load image. Re-check: clean."),
    ):
        run, preamble = _step(strategy)
        out.append(DemoStep(command=f"hvcheck fix {STOMP.name} --strategy {strategy}", run=run, expect=expect,
                            explain=explain, preamble=preamble))
    run, preamble = _step("all", BOARD)
    out.append(DemoStep(
        command="hvcheck fix hvisor/platform/aarch64/rk-stomp", run=run, expect={"M014"}, preamble=preamble,
        explain="The same on an hvisor board: board.rs's region literal is split (the fixed-size array grows "
                "from 2 to 3), and the root device tree's reservation, sized for the image only, is widened to "
                "the whole extent and gets no-map. Only M014 remains: no ELF was given, so the extent is "
                "estimated (the hole covers the largest assumed image)."))
    return out
