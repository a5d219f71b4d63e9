"""Readers and writers, one module per format, all producing and consuming :class:`veritally.model.Election`.

Every format module defines:

* ``NAME`` (the ``--format`` value) and ``DESCRIPTION``;
* ``sniff(path: Path) -> bool``: cheap check whether ``path`` (file or folder) is in this format;
* ``read(paths: Sequence[Path], **options) -> Election``: read one or more files (or folders) as one election;
  bad input raises an :class:`~veritally.errors.InputError` naming file, record and field;
* optionally ``write(election: Election, out: Path) -> list[Path]``: write the election (atomically).

Nothing downstream of a reader knows which vendor a card came from.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from types import ModuleType

from ..errors import ConfigError, FormatError, InputError, ModelError
from ..model import Election

__all__ = ["FORMATS", "format_module", "detect_format", "read_cvrs", "write_cvrs"]

#: ``--format`` value → module, in the order ``auto`` tries them.
FORMATS: dict[str, str] = {
    "parquet": "parquet",
    "dominion": "dominion",
    "hart": "hart",
    "cdf": "nist_cdf",
    "ess": "ess",
    "clearballot": "clearballot",
    "csv": "generic_csv",
}


def format_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(f".{FORMATS[name]}", __name__)
    except KeyError:
        raise ConfigError(f"unknown format {name!r}; choose one of: auto, {', '.join(FORMATS)}") from None


def detect_format(path: str | PathLike[str]) -> str:
    """The format of ``path`` (a file or folder), by each module's ``sniff``; InputError if none claims it."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", file=p)
    for name in FORMATS:
        if format_module(name).sniff(p):
            return name
    raise FormatError("cannot tell the CVR format; give --format", file=p,
                      expected="one of " + ", ".join(FORMATS))


def read_cvrs(paths: str | PathLike[str] | Sequence[str | PathLike[str]], fmt: str = "auto", **options) -> Election:
    """Read CVR files (or folders) of one format as one election."""
    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no CVR files given")
    for p in paths:
        if not p.exists():
            raise InputError("no such file or folder", file=p)
    if fmt == "auto":
        found = {detect_format(p) for p in paths}
        if len(found) > 1:
            raise InputError(f"the files are in different formats ({', '.join(sorted(found))}); read them apart",
                             file=paths[0])
        fmt = found.pop()
    try:
        return format_module(fmt).read(paths, **options)
    except ModelError as exc:  # e.g. more choices than a contest may have: still the input's fault
        raise FormatError(str(exc), file=paths[0]) from None


def write_cvrs(election: Election, out: str | PathLike[str], fmt: str) -> list[Path]:
    """Write ``election`` in format ``fmt`` to ``out`` (a file or folder, as the format needs)."""
    module = format_module(fmt)
    if not hasattr(module, "write"):
        raise ConfigError(f"format {fmt!r} can be read but not written")
    return module.write(election, Path(out))
