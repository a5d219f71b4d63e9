"""SHANGRLA's sample numbers: the SHA-256 pseudo-random generator of the ``cryptorandom`` package (Stark & Ottoboni),
which SHANGRLA's ``CVR.assign_sample_nums`` uses to put the CVRs in sampling order.

The generator hashes the UTF-8 text ``str(seed) + ","`` followed by k zero bytes for its k-th output (k = 0, 1, …)
and reads each SHA-256 digest as a 256-bit big-endian integer; ``random()`` is that integer times 2⁻²⁵⁶. Given here
so that an audit run with SHANGRLA can be re-derived (and compared) by Veritally.
"""

from __future__ import annotations

import hashlib

__all__ = ["shangrla_sample_numbers", "shangrla_uniforms"]


def shangrla_sample_numbers(seed: object, n: int, *, start: int = 0) -> list[int]:
    """The 256-bit integers SHANGRLA stores as ``sample_num`` for outputs ``start … start + n − 1``."""
    base = hashlib.sha256(f"{seed},".encode())
    base.update(b"\x00" * start)
    out = []
    for _ in range(n):
        out.append(int.from_bytes(base.digest(), "big"))
        base.update(b"\x00")
    return out


def shangrla_uniforms(seed: object, n: int, *, start: int = 0) -> list[float]:
    """``cryptorandom.SHA256(seed).random(n)``: each sample number times 2⁻²⁵⁶, as a float."""
    return [k * 2.0**-256 for k in shangrla_sample_numbers(seed, n, start=start)]
