"""Loaders build a :class:`hvcheck.layout.model.System` from files on disk."""

from __future__ import annotations

from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.layout.model import System


def load_layout(
    path: Path,
    *,
    elf: Path | None = None,
    board: str | None = None,
    root_dts: Path | None = None,
    image_size: tuple[int, int] | None = None,
) -> System:
    """A neutral layout file (.yaml/.yml/.json), or an hvisor board directory / checkout."""
    if path.is_dir():
        try:
            from hvcheck.layout.loaders import hvisor
        except ImportError:
            raise InputError(str(path), "is a directory, and this build has no hvisor loader") from None
        target = hvisor.resolve_board(path, board) if board else path
        kwargs = {"elf": elf, "root_dts": root_dts}
        if image_size is not None:
            kwargs["image_size"] = image_size
        return hvisor.load_hvisor_board(target, **kwargs)  # type: ignore[arg-type]
    if not path.exists():
        raise InputError(str(path), "no such file or directory")
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        from hvcheck.layout.loaders.neutral import load_neutral

        if board or root_dts or image_size:
            raise InputError(str(path), "--board, --root-dts and --image-size apply to hvisor trees, not layout files")
        return load_neutral(path, elf=elf)
    raise InputError(str(path), "not a layout file (.yaml/.yml/.json) or an hvisor board directory")
