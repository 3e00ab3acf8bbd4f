"""The fixed pseudo-random order in which a lottery scroll gives out its positions.

Step k of a scroll's walk (1-based) is `lottery_order(seed=..., size=N).position_at(k)`: a keyed
permutation of 1..N, so letters look random yet the walk never repeats a position and ends with
the scroll full. Pure Python (no Django).

The permutation is Black and Rogaway's generalised Feistel network ("Ciphers with arbitrary
finite domains", 2002) on a rectangle of a x b cells just larger than N (a = ceil(sqrt N)), a
bijection of 0..ab-1; cycle walking (enciphering again while the result is >= N) restricts it
to a bijection of 0..N-1. A step costs a few dozen integer operations (ab/N < 1.01 passes on
average for a full scroll), never O(N), and nothing is stored.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

ROUNDS = 8  # even, so a and b end where they started (see _encipher)
_MASK_64 = (1 << 64) - 1


def _mix(value: int) -> int:
    """The splitmix64 finaliser: a cheap, well-spread round function."""
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK_64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK_64
    return value ^ (value >> 31)


class LotteryOrder:
    """A bijection of 1..size keyed by seed; the same (seed, size) always gives the same order."""

    def __init__(self, *, seed: int, size: int):
        if size < 1:
            raise ValueError("a scroll has at least one letter")
        self.size = size
        self._a = math.isqrt(size - 1) + 1  # ceil(sqrt(size))
        self._b = -(-size // self._a)  # ceil(size / a), so a * b >= size
        digest = hashlib.blake2b(f"{seed}:{size}".encode(), digest_size=8 * ROUNDS).digest()
        self._round_keys = [int.from_bytes(digest[8 * i : 8 * i + 8], "big") for i in range(ROUNDS)]

    def _encipher(self, value: int) -> int:
        """A bijection of 0..ab-1. Each round keeps one side and adds a keyed hash of it to the
        other, modulo that side's range (a, then b, alternately), so every round is invertible."""
        a, b = self._a, self._b
        left, right = value % a, value // a
        for round_number, key in enumerate(self._round_keys):
            modulus = a if round_number % 2 == 0 else b
            left, right = right, (left + _mix(right ^ key)) % modulus
        return a * right + left

    def position_at(self, step: int) -> int:
        """The position given out at `step` (both 1-based)."""
        if not 1 <= step <= self.size:
            raise ValueError(f"step {step} is outside 1..{self.size}")
        value = self._encipher(step - 1)
        while value >= self.size:
            value = self._encipher(value)
        return value + 1


@lru_cache(maxsize=256)
def lottery_order(*, seed: int, size: int) -> LotteryOrder:
    return LotteryOrder(seed=seed, size=size)
