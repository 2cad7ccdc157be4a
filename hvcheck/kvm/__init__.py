"""`hvcheck kvm`: the live-host probe (DESIGN.md §2).

``abi`` is the raw KVM ABI (numbers from the generated table, struct layouts, one ioctl call) and
imports no other area; ``probe`` asks the host and records every answer into a ``record.Probe``
(JSON with --save, read back with --from); ``guest`` is the XSETBV micro-guest; ``checks`` are pure
functions from a probe to findings (X010, X003/X004, X011-X016); ``summary`` and ``cli`` present.
"""
