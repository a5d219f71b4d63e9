"""Option checks shared by the samplers of :mod:`veritally.audit.sampling`: counts, the draw window, the seed."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, InputError

__all__ = ["count", "draw_window", "check_seed"]


def count(value: object, name: str, *, allow_none: bool = False) -> int | None:
    """``value`` as a Python int if it is a non-negative integer (None too, if allowed), else a ConfigError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer{' or None' if allow_none else ''}, not {value!r}")
    return int(value)


def draw_window(n: int, take: int | None, drop: int, with_replacement: bool) -> int:
    """How many of the smallest first tickets can matter (``drop + take``, at most ``n``); ConfigError on nonsense."""
    if not isinstance(with_replacement, bool):
        raise ConfigError(f"with_replacement must be True or False, not {with_replacement!r}")
    if n == 0:
        raise InputError("there is nothing to sample: the list of ids is empty", expected="at least one id")
    if take is None:
        if with_replacement:
            raise ConfigError("sampling with replacement never runs out: give take, the number of draws")
        if drop > n:
            raise ConfigError(f"cannot drop {drop:,} draws from {n:,} ids without replacement")
        return n
    if not with_replacement and drop + take > n:
        raise ConfigError(f"cannot draw {drop + take:,} ({drop:,} dropped + {take:,} taken) from {n:,} ids without "
                          "replacement")
    return min(n, drop + take)


def check_seed(seed: object) -> object:
    """``seed`` if it is given and its text encodes to UTF-8, else a ConfigError."""
    if seed is None:
        raise ConfigError("a seed is required (for example 20 digits from rolled dice)")
    try:
        str(seed).encode("utf-8")
    except UnicodeEncodeError as err:
        raise ConfigError(f"the seed {seed!r} cannot be written in UTF-8 ({err.reason})") from None
    return seed
