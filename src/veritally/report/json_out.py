"""JSON output, written atomically."""

from __future__ import annotations

from pathlib import Path

import orjson

from .._io import atomic_write

__all__ = ["write_json", "dumps"]


def dumps(data: object) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def write_json(path: str | Path, data: object) -> Path:
    """Write ``data`` as indented JSON to ``path``; the file appears whole or not at all."""
    with atomic_write(path, "wb") as fh:
        fh.write(dumps(data) + b"\n")
    return Path(path)
