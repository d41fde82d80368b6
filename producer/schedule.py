"""The original system's send loop, without its lists: which entity comes next.

Original semantics (kept for people who know it): first ``initial_users`` sign-ups; then loops
of ``users_per_loop`` users and some orders, in random order. Orders per loop are either
``max(1, int(users_so_far * ratio_order_user))`` (the original knob: orders grow with the user
base) or ``users_per_loop * orders_per_user`` on average (carrying the fraction over, so the
long-run ratio is exact). The original built and shuffled a list per loop; here the next entity
is drawn from the remaining counts (users with probability ``u / (u + o)``), which yields the
same uniformly random interleaving in constant memory. An order is never scheduled before the
first user exists.
"""

from __future__ import annotations

import random

USER = 0
ORDER = 1
LOOP_END = 2  # flag bit in chunk(): the event is the last of its loop


class Schedule:
    """Call :meth:`next` for the next entity (``USER`` or ``ORDER``)."""

    __slots__ = (
        "_carry",
        "_init_left",
        "_o",
        "_orders_per_user",
        "_ratio_order_user",
        "_rng",
        "_u",
        "_users_per_loop",
        "loop_ended",
        "loops",
        "users",
    )

    def __init__(
        self,
        seed: int,
        *,
        initial_users: int = 100,
        users_per_loop: int = 10,
        orders_per_user: float | None = 3.0,
        ratio_order_user: float | None = None,
    ) -> None:
        if initial_users < 0 or users_per_loop < 0:
            raise ValueError("user counts must be >= 0")
        if (orders_per_user is None) == (ratio_order_user is None):
            raise ValueError("give exactly one of orders_per_user and ratio_order_user")
        if initial_users == 0 and users_per_loop == 0:
            raise ValueError("no user would ever be produced (initial users and users per loop are 0)")
        if users_per_loop == 0 and ratio_order_user is None:
            raise ValueError(
                "users per loop is 0: loops would be empty (use ratio_order_user for orders only)"
            )
        if orders_per_user is not None and orders_per_user < 0:
            raise ValueError("orders_per_user must be >= 0")
        if ratio_order_user is not None and ratio_order_user < 0:
            raise ValueError("ratio_order_user must be >= 0")
        self._rng = random.Random(f"shopstream:{seed}:schedule")
        self._init_left = initial_users
        self._users_per_loop = users_per_loop
        self._orders_per_user = orders_per_user
        self._ratio_order_user = ratio_order_user
        self._carry = 0.0
        self._u = 0
        self._o = 0
        self.users = 0
        self.loops = 0
        self.loop_ended = False

    def _start_loop(self) -> None:
        self.loops += 1
        self._u = self._users_per_loop
        if self._ratio_order_user is not None:
            self._o = max(1, int(self.users * self._ratio_order_user))
        else:
            self._carry += self._users_per_loop * (self._orders_per_user or 0.0)
            self._o = int(self._carry)
            self._carry -= self._o

    def next(self) -> int:
        """The next entity. ``loop_ended`` is True right after the last event of a loop."""
        self.loop_ended = False
        if self._init_left > 0:
            self._init_left -= 1
            self.users += 1
            return USER
        while self._u + self._o == 0:
            self._start_loop()
        u, o = self._u, self._o
        if u and (self.users == 0 or self._rng.random() * (u + o) < u):
            self._u = u - 1
            self.users += 1
            kind = USER
        else:
            self._o = o - 1
            kind = ORDER
        if self._u + self._o == 0:
            self.loop_ended = True
        return kind

    def chunk(self, n: int) -> bytes:
        """The next ``n`` decisions at once (``USER``/``ORDER``, ``| LOOP_END`` at a loop's end).

        Same sequence as ``n`` calls of :meth:`next`, at a fraction of the per-event cost.
        """
        out = bytearray(n)
        rnd = self._rng.random
        i = min(n, self._init_left)  # initial users: out[:i] stays USER
        self._init_left -= i
        users = self.users + i
        u, o = self._u, self._o
        while i < n:
            if u + o == 0:
                self.users = users
                self._start_loop()
                u, o = self._u, self._o
                continue
            if u and (users == 0 or rnd() * (u + o) < u):
                u -= 1
                users += 1
                kind = USER
            else:
                o -= 1
                kind = ORDER
            if u + o == 0:
                kind |= LOOP_END
            out[i] = kind
            i += 1
        self._u, self._o, self.users = u, o, users
        self.loop_ended = bool(n and out[n - 1] & LOOP_END)
        return bytes(out)
