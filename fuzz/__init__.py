"""Fuzzing every hvcheck reader: mutation of our valid fixtures (fuzz.runner) and coverage-guided
fuzzing with atheris (fuzz.atheris_harness). See docs/fuzzing.md."""
