"""Backport fidelity: did every backported hunk land in the same function and `switch` as upstream?

Patches are parsed with unidiff (:mod:`.patchfile`), changed-line blocks are paired by content
(:mod:`.pairing`), each side's enclosing function and `switch`/`case` context is resolved with
tree-sitter-c on reconstructed pre- and post-images (:mod:`.sources`, :mod:`.cscope`), and
:mod:`.check` turns disagreements into P001-P005 findings. DESIGN.md §4 "Backports".
"""
