"""Veritally's exception tree, rooted in one module.

::

    VeritallyError                 anything Veritally raises on purpose
    ├── InputError                 bad input: names file, record, field and what was expected
    │   ├── FormatError            a file is not in the format it claims (malformed, truncated, wrong type)
    │   ├── UnknownIdError         a reference to an id the manifests do not define (candidate, contest…)
    │   ├── DuplicateCardError     the same card id appears twice
    │   └── ManifestMismatch       a ballot manifest disagrees with the CVRs
    ├── ConfigError                an invalid option or combination of options
    └── ModelError                 an election model that breaks its own invariants

The CLI maps every :class:`InputError` and :class:`ConfigError` to a one-line message and exit status 2.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "VeritallyError",
    "InputError",
    "FormatError",
    "UnknownIdError",
    "DuplicateCardError",
    "ManifestMismatch",
    "ConfigError",
    "ModelError",
]


class VeritallyError(Exception):
    """Root of every error Veritally raises on purpose."""


class InputError(VeritallyError):
    """Bad input data.

    Carries the ``file``, the ``record`` (row, line or card id), the ``field`` and what was ``expected``, so that
    the message alone tells a county clerk where to look.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | PathLike[str] | None = None,
        record: str | int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.record = record
        self.field = field
        self.expected = expected
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        text = (": ".join([", ".join(where), self.message]) if where else self.message)
        if self.expected is not None:
            text += f" (expected {self.expected})"
        return text


class FormatError(InputError):
    """A file is malformed, truncated, or holds a value of the wrong type."""


class UnknownIdError(InputError):
    """A record refers to an id (candidate, contest, precinct…) that no manifest defines."""


class DuplicateCardError(InputError):
    """The same card id appears more than once."""


class ManifestMismatch(InputError):
    """A ballot manifest and the CVRs disagree (counts, batches)."""


class ConfigError(VeritallyError):
    """An invalid option, or an invalid combination of options."""


class ModelError(VeritallyError):
    """An election model that breaks its own invariants (a programming or reader error)."""
