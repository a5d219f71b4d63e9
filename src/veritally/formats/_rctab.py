"""What every reader shares with RCTab's configuration: candidate lists, option names, write-in names.

RCTab's contest configuration (``cvrFileSources`` entries, ``candidates``, ``rules``) names reader options one way
for every vendor; each format's ``options_from_rctab_source`` turns an entry into its reader's keyword options with
:func:`source_options`, and reads the candidate list with :func:`candidate_choices`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..model import UWI_NAME, Choice

__all__ = ["UWI_NAME", "looks_write_in", "candidate_choices", "candidate_lookup", "rctab_int", "rctab_max_rankings",
           "check_options", "source_options"]

_WRITE_IN = re.compile(r"^\s*write[\s_-]*ins?\b", re.I)


def looks_write_in(name: str) -> bool:
    """Whether a choice name is a write-in line ("Write-in", "Write-in-28", "WRITE-IN 2", RCTab's UWI name)."""
    return name == UWI_NAME or bool(_WRITE_IN.match(name))


def candidate_choices(candidates: Any, fmt: str) -> tuple[Choice, ...] | None:
    """RCTab-style candidate list option → Choices: names, ``(name, aliases)`` pairs, ``{"name", "aliases"}``
    mappings (RCTab config entries) or Choices. None stays None."""
    if candidates is None:
        return None

    def one(c: Any) -> Choice:
        if isinstance(c, Choice):
            return c
        if isinstance(c, str):
            return Choice(c, c)
        if isinstance(c, Mapping):
            return Choice(c["name"], c["name"], aliases=tuple(a for a in c.get("aliases") or () if a))
        name, aliases = c
        return Choice(name, name, aliases=tuple(aliases))

    try:
        return tuple(one(c) for c in candidates)
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{fmt} option candidates: give names, (name, aliases) pairs, {{'name', 'aliases'}} "
                          "mappings or Choices") from None


def candidate_lookup(candidates: Sequence[Choice]) -> dict[str, int]:
    """Name or alias (also trimmed) → position in ``candidates``."""
    lookup: dict[str, int] = {}
    for i, c in enumerate(candidates):
        for key in (c.name, c.id, *c.aliases):
            lookup.setdefault(key, i)
            lookup.setdefault(key.strip(), i)
    return lookup


def rctab_int(source: Mapping[str, Any], key: str) -> int | None:
    """A number-valued RCTab config field ("" or absent: None)."""
    value = source.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"RCTab config {key} must be a number, not {value!r}") from None


def rctab_max_rankings(rules: Mapping[str, Any] | None) -> int | None:
    """``rules.maxRankingsAllowed`` as a number, None for "max" or unset."""
    value = (rules or {}).get("maxRankingsAllowed")
    if value in (None, "", "max"):
        return None
    return rctab_int({"maxRankingsAllowed": value}, "maxRankingsAllowed")


def check_options(options: Mapping[str, Any], known: Sequence[str], fmt: str) -> None:
    unknown = set(options) - set(known)
    if unknown:
        raise ConfigError(f"unknown {fmt} option(s): {', '.join(sorted(unknown))}; known: {', '.join(known)}")


def source_options(source: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]] = (),
                   rules: Mapping[str, Any] | None = None, *, text: Mapping[str, str] = {},
                   numbers: Mapping[str, str] = {}) -> dict[str, Any]:
    """Reader options from one RCTab ``cvrFileSources`` entry: ``text`` maps RCTab keys to options taking text,
    ``numbers`` to options taking a number; plus the config's ``candidates`` (names and aliases) and
    ``rules.maxRankingsAllowed`` as ``max_rankings``. Empty strings mean "not set", as in RCTab."""
    opts: dict[str, Any] = {}
    for key, option in text.items():
        if source.get(key):
            opts[option] = str(source[key])
    for key, option in numbers.items():
        value = rctab_int(source, key)
        if value is not None:
            opts[option] = value
    if candidates:
        opts["candidates"] = [{"name": c["name"], "aliases": list(c.get("aliases") or ())} for c in candidates]
    max_rankings = rctab_max_rankings(rules)
    if max_rankings is not None:
        opts["max_rankings"] = max_rankings
    return opts
