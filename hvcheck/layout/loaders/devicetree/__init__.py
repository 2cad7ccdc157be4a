"""Device-tree facts for the layout checks: memory, reserved memory, `mem=`, CPUs and interrupt
controllers, from a `.dts` source or a `.dtb` blob (decided by content: the FDT magic).

Three layers, like Zephyr's dtlib/edtlib: the syntax (:mod:`.lexer` + :mod:`.dts`, the lexer
shared with `hvcheck fix`'s DTS editor) and the binary format (:mod:`.fdt`) each build the same
node tree (:mod:`.node`); :mod:`.facts` reads memory, reservations, CPUs and interrupt
controllers from it. What Linux does with those facts is :mod:`hvcheck.layout.dtfacts`.
`tests/layout/loaders/devicetree` compiles DTS fixtures with the real `dtc` and checks that the
DTS and DTB readers give the same facts.

Facts are cached by content (the file's digest, and the digest or absence of every file its
includes looked for), so a board set or a walk over a repository's history parses a device tree
again only when it or an include changed.
"""

from __future__ import annotations

from hvcheck.layout.loaders.devicetree.facts import DeviceTreeInfo
from hvcheck.layout.loaders.devicetree.read import read_devicetree

__all__ = ["DeviceTreeInfo", "read_devicetree"]
