"""Backport fidelity: did every backported hunk land in the same place as upstream's, with the same lines?

Shape (issue 12): :mod:`.model` (patches, hunks, blocks, scopes, placements) ← :mod:`.readers`
(mail and mbox text, unified diffs, source trees, C scopes from tree-sitter-c or from the patch
text) → :mod:`.pairing` (blocks paired by their changed lines; moved-and-rewritten blocks linked
by rare identifiers) → :mod:`.placement` (where each block sits on each side, with its evidence)
→ :mod:`.rules` (P001-P007) ← :mod:`.check` (P003/P004, P008) (orchestration) ← :mod:`.cli`. DESIGN.md §4 "Backports".
"""
