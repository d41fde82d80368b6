"""Exact weighted draws, and a user's gender/region as a pure function of (seed, user_id).

A weight table ``{value: integer weight}`` is expanded into ``sum(weights)`` slots; a uniform
draw over the slots picks the value, so ``P(value) = weight / sum(weights)`` exactly (up to the
granularity of the uniform draw: 2^-53 for ``random()``, 2^-32 for the hash-based draw).

Orders carry the ordering user's gender and region (denormalized for the real-time path, which
cannot join). Storing them per user would make memory grow with every sign-up, so they are
recomputed from ``(seed, user_id)`` by :func:`user_attributes`, which the user event uses too.
The algorithm is documented in ``conf/contract.yaml``; changing it changes every dashboard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

from shopstream.contract import load_contract

T = TypeVar("T")

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


class WeightedTable(Generic[T]):
    """Values expanded into slots: ``values[i]`` occupies ``weights[i]`` consecutive slots."""

    __slots__ = ("slots", "total", "values", "weights")

    def __init__(self, values: Sequence[T], weights: Sequence[int]) -> None:
        if len(values) != len(weights) or not values:
            raise ValueError("values and weights must be non-empty and of equal length")
        if any(not isinstance(w, int) or w <= 0 for w in weights):
            raise ValueError("weights must be positive integers")
        self.values = tuple(values)
        self.weights = tuple(weights)
        self.slots: tuple[T, ...] = tuple(v for v, w in zip(values, weights, strict=True) for _ in range(w))
        self.total = len(self.slots)

    @classmethod
    def from_mapping(cls, weights: Mapping[T, int]) -> WeightedTable[T]:
        return cls(list(weights), list(weights.values()))

    def map(self, fn: object) -> WeightedTable[object]:
        """The same table with every value transformed (e.g. pre-encoded as JSON)."""
        return WeightedTable([fn(v) for v in self.values], list(self.weights))  # type: ignore[operator]

    def pick(self, u: float) -> T:
        """Value for a uniform ``u`` in [0, 1) (what ``random.random()`` returns)."""
        return self.slots[int(u * self.total)]

    def pick_u32(self, u32: int) -> T:
        """Value for a uniform 32-bit integer."""
        return self.slots[(u32 * self.total) >> 32]

    def probability(self, value: T) -> float:
        return sum(w for v, w in zip(self.values, self.weights, strict=True) if v == value) / self.total


def mix64(x: int) -> int:
    """The splitmix64 output function (a bijection on 64-bit integers with full avalanche)."""
    x &= MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def seed_salt(seed: int) -> int:
    """64-bit salt of a run: the first 8 bytes (big-endian) of SHA-256("shopstream:<seed>")."""
    return int.from_bytes(hashlib.sha256(f"shopstream:{seed}".encode()).digest()[:8], "big")


class UserAttributes:
    """``(gender, region)`` of any user_id, recomputed on demand (no per-user state).

    ``h = mix64(salt(seed) + user_id * GOLDEN_GAMMA)`` picks one of the ``G * R`` (gender slot,
    region slot) pairs: ``i = (h * G * R) >> 64``, gender slot ``i // R``, region slot ``i % R``.
    A uniform pair index makes the two slots independent and each exactly uniform, so gender and
    region follow their weights exactly (up to 2^-64) and independently of each other.
    """

    __slots__ = ("_gender", "_region", "_salt")

    def __init__(self, seed: int, gender: WeightedTable[T], region: WeightedTable[T]) -> None:
        self._salt = seed_salt(seed)
        self._gender = gender
        self._region = region

    def slot_index(self, user_id: int) -> int:
        """Index of the (gender, region) slot pair in ``[0, G * R)``."""
        pairs = self._gender.total * self._region.total
        return (mix64(self._salt + user_id * GOLDEN_GAMMA) * pairs) >> 64

    def __call__(self, user_id: int) -> tuple[object, object]:
        gi, ri = divmod(self.slot_index(user_id), self._region.total)
        return self._gender.slots[gi], self._region.slots[ri]


def user_attributes(seed: int, user_id: int) -> tuple[str, str]:
    """Reference implementation: ``(gender, region)`` of ``user_id`` in a run with ``seed``."""

    users = load_contract().entity("users")
    gender = WeightedTable.from_mapping(users.field("gender").weights or {})
    region = WeightedTable.from_mapping(users.field("address").weights or {})
    return UserAttributes(seed, gender, region)(user_id)  # type: ignore[return-value]
