"""`hvcheck fix`: turn layout findings into minimal text edits (punch, reserve, relocate).

Flow: :mod:`plan` decides *what* changes in the model (pieces of regions, reservations, a new
base); the editors (:mod:`neutral`, :mod:`dts`, ...) turn that into byte-range edits of the
files the model came from; :mod:`engine` re-parses the edited text and re-runs every layout
rule before anything is shown as a fix; :mod:`safewrite` applies the edits atomically.
"""
