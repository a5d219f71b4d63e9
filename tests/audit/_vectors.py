"""The RLA conformance vectors in ../shared/conformance/rla-vectors, read in place."""

from __future__ import annotations

import json
from functools import cache

from .._shared import SHARED, need

RLA_VECTORS = SHARED / "conformance" / "rla-vectors"


@cache
def _load(name: str) -> dict:
    return json.loads((RLA_VECTORS / name).read_text(encoding="utf-8"))


def vectors(name: str) -> dict:
    """One vector file as parsed JSON (the test is skipped, with the reason, when ../shared is absent)."""
    need(RLA_VECTORS / name)
    return _load(name)


def cases(name: str, fn_prefix: str) -> list[dict]:
    """The cases of a vector file whose ``fn`` starts with ``fn_prefix`` (empty when the folder is absent, so
    parametrized tests collect; a guard test per file checks the count)."""
    if not (RLA_VECTORS / name).exists():
        return []
    return [c for c in _load(name)["cases"] if str(c.get("fn", "")).startswith(fn_prefix)]
