"""Readers of the backport area: mail and mbox text (:mod:`.mail`), unified diffs (:mod:`.patchfile`),
source trees and their pre-/post-images (:mod:`.trees`), and C scopes (:mod:`.cscope`, tree-sitter-c;
:mod:`.textscope`, the patch's own text when no tree is given). They build
:mod:`hvcheck.backport.model` objects and never judge them."""
