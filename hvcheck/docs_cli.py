"""`hvcheck docs [NAME]`: the documentation pages shipped inside the package (they work from a
wheel install, without this repository): the layout file format and its JSON schema, the input
limits, and every rule page."""

from __future__ import annotations

import click

from hvcheck.cli import common_options, finish
from hvcheck.errors import InputError


def shipped_pages() -> dict[str, str]:
    """name -> file name of every top-level page in hvcheck/docs/ (rule pages: `hvcheck rules ID`)."""
    from hvcheck.findings import DOCS_DIR

    pages = {}
    for path in sorted(DOCS_DIR.iterdir()):
        if path.is_file() and path.suffix in (".md", ".json"):
            name = path.stem if path.suffix == ".md" else path.name
            pages[name] = path.name
    return pages


@click.command()
@click.argument("name", required=False)
@common_options
def docs(name: str | None, fmt: str, output: str | None, fail_on: str) -> int:
    """List the shipped documentation pages, or print page NAME (e.g. layout-format, limits)."""
    from hvcheck.findings import DOCS_DIR

    pages = shipped_pages()
    if name is None:
        listing = "\n".join(f"{n:<22} {DOCS_DIR / f}" for n, f in pages.items())
        listing += "\nrules                  `hvcheck rules` lists every rule; `hvcheck rules ID` prints its page"
        return finish([], fmt=fmt, output=output, fail_on=fail_on, preamble=listing,
                      extra={"pages": {n: str(DOCS_DIR / f) for n, f in pages.items()}})
    key = name.removesuffix(".md")
    if key not in pages:
        raise InputError(None, f"no page {name!r}; pages: {', '.join(pages)}")
    path = DOCS_DIR / pages[key]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"shipped page missing from this installation: {exc.strerror}") from None
    return finish([], fmt=fmt, output=output, fail_on=fail_on, preamble=text, extra={"page": key, "text": text})
