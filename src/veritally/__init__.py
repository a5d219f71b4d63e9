"""Veritally: independent verification that votes were counted fairly.

Public API (import from here; submodules may move):

* the election model: :class:`Election`, :class:`Contest`, :class:`Choice`, :class:`ContestKind`;
* reading and writing CVRs in every format: :func:`read_cvrs`, :func:`write_cvrs`, :func:`detect_format`;
* counting: :func:`tabulate`;
* the error tree rooted at :class:`VeritallyError` (see :mod:`veritally.errors`).
"""

from __future__ import annotations

from .errors import (
    ConfigError,
    DuplicateCardError,
    FormatError,
    InputError,
    ManifestMismatch,
    ModelError,
    UnknownIdError,
    VeritallyError,
)
from .model import Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Cards",
    "Categorical",
    "Choice",
    "Contest",
    "ContestKind",
    "ContestMarks",
    "Election",
    "VeritallyError",
    "InputError",
    "FormatError",
    "UnknownIdError",
    "DuplicateCardError",
    "ManifestMismatch",
    "ConfigError",
    "ModelError",
    "read_cvrs",
    "write_cvrs",
    "detect_format",
    "tabulate",
]


def __getattr__(name: str):  # lazy re-exports keep `import veritally` light for the CLI
    if name in ("read_cvrs", "write_cvrs", "detect_format"):
        from . import formats

        return getattr(formats, name)
    if name == "tabulate":
        from .tabulate import tabulate

        return tabulate
    raise AttributeError(name)
