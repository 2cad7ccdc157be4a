"""Regenerate qemu-3.1-model.bin.gz: a model of how QEMU 2.12-3.1 runs the conformance harness.

No QEMU of that age is installed here, so the model is built from a real run of the harness under
the installed QEMU (7.2, which traps on exactly the spec's 2409 must-trap halfwords) with one
record replaced by the documented old behaviour (seed 002; fixed in QEMU 4.1): 0x0000 followed by
a non-zero halfword executed as c.addi4spn fp, sp, 0 (mv fp, sp) -- it falls through to the next
guard with x8 changed. Run: python3 make_model.py  (needs qemu-riscv64 on PATH).
"""

from __future__ import annotations

import gzip
from pathlib import Path

from hvcheck.riscv import conformance as conf

HERE = Path(__file__).resolve().parent


def main() -> None:
    run = conf.run_user("qemu-riscv64")
    assert {h for h, o in run.outcomes.items() if o.trapped_illegal} >= {0x0000}
    old = run.outcomes[0x0000]
    run.outcomes[0x0000] = conf.Outcome(0x0000, conf.SIGTRAP, 1, 2, 1 << 8, old.fault_addr + 2)
    data = conf.MAGIC + b"".join(conf.RECORD.pack(o.halfword, o.signal, o.si_code, o.pc_delta, o.changed,
                                                  o.fault_addr) for o in run.outcomes.values())
    (HERE / "qemu-3.1-model.bin.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


if __name__ == "__main__":
    main()
