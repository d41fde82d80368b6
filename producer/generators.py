"""Event factories for users and orders, driven by ``conf/contract.yaml``.

Fast by construction, exact by construction:

* Every weighted field is drawn from a :class:`~producer.derive.WeightedTable` built from the
  contract's weights (no hand-copied numbers here), with ``random.random()`` as the uniform draw
  (the same method ``random.choices`` uses).
* Free-text fields (name, phone number, email local part) come from pools of Faker ``ko_KR``
  values generated once per run; a uniform index into the pool replaces a Faker call per event.
  Pools carry no weighted field, so every distribution in the contract stays exact.
* Values are pre-encoded as JSON tokens and an event is one ``%``-format of a template whose
  field order is the contract's; ``json.loads(value)`` gives the event as a dict.
* ``event_id`` is ``uuid.UUID(int=ids.getrandbits(128), version=4)`` for successive draws of a
  dedicated ``random.Random("shopstream:<seed>:ids")``, computed a batch at a time (identical
  output, tested), so ``--seed`` reproduces every id.

Memory is constant: a factory holds the pools, the tables and two counters; nothing grows with
the number of events.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from producer.derive import GOLDEN_GAMMA as _GAMMA
from producer.derive import MASK64 as _M64
from producer.derive import WeightedTable, seed_salt
from shopstream.contract import Contract, ContractError, load_contract

USER_FIELDS = (
    "event_id",
    "schema_version",
    "user_id",
    "name",
    "email",
    "phone_number",
    "gender",
    "address",
    "created_at",
)
ORDER_FIELDS = (
    "event_id",
    "schema_version",
    "order_id",
    "user_id",
    "product_id",
    "price",
    "first_category",
    "second_category",
    "user_gender",
    "user_region",
    "created_at",
)

_MASK128 = (1 << 128) - 1
_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64)) & _MASK128
_UUID_SET = (0x8000 << 48) | (4 << 76)
DEFAULT_POOL_SIZE = 4096
UUID_BATCH = 1024
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB


def uuid4_from_int(n: int) -> str:
    """``str(uuid.UUID(int=n, version=4))`` without building a UUID object."""
    h = "%032x" % ((n & _UUID_CLEAR) | _UUID_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class UuidStream:
    """``str(uuid.UUID(int=rng.getrandbits(128), version=4))`` for successive draws of ``rng``.

    Draws ``UUID_BATCH`` ids at once: one ``getrandbits(128 * n)`` equals ``n`` successive
    ``getrandbits(128)`` (CPython fills 32-bit words least significant first), the version and
    variant bits are set with one mask for all, and the dashes are placed by strided byte copies.
    Same ids as one at a time, several times faster; memory is one fixed-size batch.
    """

    __slots__ = ("_bits", "buf")

    _CLEAR = sum(_UUID_CLEAR << (128 * i) for i in range(UUID_BATCH))
    _SET = sum(_UUID_SET << (128 * i) for i in range(UUID_BATCH))
    # where hex digit j of a uuid goes in its 37-byte slot "8-4-4-4-12 "
    _POS = tuple(j + (j >= 8) + (j >= 12) + (j >= 16) + (j >= 20) for j in range(32))
    _BLANK = bytes(
        (b"0" * 8 + b"-" + b"0" * 4 + b"-" + b"0" * 4 + b"-" + b"0" * 4 + b"-" + b"0" * 12 + b" ")
        * UUID_BATCH
    )

    def __init__(self, rng: random.Random) -> None:
        self._bits = rng.getrandbits
        self.buf: list[str] = []

    def refill(self) -> None:
        """Append the next batch, last id first, so ``buf.pop()`` returns ids in draw order."""
        n = UUID_BATCH
        hexed = ((self._bits(128 * n) & self._CLEAR) | self._SET).to_bytes(16 * n, "big").hex().encode()
        out = bytearray(self._BLANK)
        for j, pos in enumerate(self._POS):
            out[pos::37] = hexed[j::32]
        self.buf.extend(out.decode("ascii").split())

    def __call__(self) -> str:
        if not self.buf:
            self.refill()
        return self.buf.pop()


def _token(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


# values of these logical types never need JSON escaping: their slot carries the quotes
_PLAIN_STRING_TYPES = ("uuid", "timestamp")


def _template(contract: Contract, entity: str) -> str:
    """``{"field":%s,...}`` in contract order; a ``const`` field is written in, not a slot."""
    slots = []
    for f in contract.entity(entity).fields:
        if f.const is not None:
            slot = json.dumps(f.const, ensure_ascii=False).replace("%", "%%")
        elif f.type in _PLAIN_STRING_TYPES:
            slot = '"%s"'
        else:
            slot = "%s"
        slots.append(f"{json.dumps(f.name)}:{slot}")
    return "{" + ",".join(slots) + "}"


def _check_fields(contract: Contract, entity: str, produced: tuple[str, ...]) -> None:
    listed = tuple(contract.entity(entity).field_names)
    if listed != produced:
        raise ContractError(
            f"conf/contract.yaml lists {entity} fields {list(listed)}, but producer/generators.py "
            f"produces {list(produced)}; update the generator together with the contract"
        )


@dataclass(frozen=True)
class FakerPools:
    """Faker ``ko_KR`` names, phone numbers and email local parts, generated once per seed."""

    names: tuple[str, ...]
    phone_numbers: tuple[str, ...]
    email_locals: tuple[str, ...]

    @classmethod
    def build(cls, seed: int, size: int = DEFAULT_POOL_SIZE) -> FakerPools:
        if size < 1:
            raise ValueError("pool size must be >= 1")
        from faker import Faker  # imported here: Faker takes ~0.3 s to import

        fake = Faker("ko_KR")
        fake.seed_instance(seed)
        names = tuple(fake.name() for _ in range(size))
        phones = tuple(fake.phone_number() for _ in range(size))
        locals_ = tuple(fake.user_name() for _ in range(size))
        return cls(names, phones, locals_)


class EventFactory:
    """Makes user and order events as ``(key, value)`` strings, ready for ``Producer.produce``.

    ``key`` is the entity key as a decimal string; ``value`` is the JSON event (UTF-8 on the
    wire). ``created_at`` is passed in so the caller owns the clock (wall clock, a simulated
    clock, or a late event time). ``user``/``order`` are closures over local tables: this is
    the producer's hot path, and local lookups are what make it fast.
    """

    def __init__(
        self,
        seed: int,
        contract: Contract | None = None,
        *,
        pools: FakerPools | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        first_user_id: int = 1,
        first_order_id: int = 1,
    ) -> None:
        if first_user_id < 1 or first_order_id < 1:
            raise ValueError("first ids must be >= 1")
        contract = contract or load_contract()
        _check_fields(contract, "users", USER_FIELDS)
        _check_fields(contract, "orders", ORDER_FIELDS)
        self.seed = seed
        self.first_user_id = first_user_id
        self.first_order_id = first_order_id
        self._next = [first_user_id, first_order_id]  # shared with the closures
        rng = random.Random(f"shopstream:{seed}:events")
        self._ids = UuidStream(random.Random(f"shopstream:{seed}:ids"))
        pools = pools or FakerPools.build(seed, pool_size)
        self.user, self.order = self._build(contract, rng, pools)

    @property
    def next_user_id(self) -> int:
        return self._next[0]

    @property
    def next_order_id(self) -> int:
        return self._next[1]

    @property
    def users_created(self) -> int:
        return self._next[0] - self.first_user_id

    def _build(
        self, contract: Contract, rng: random.Random, pools: FakerPools
    ) -> tuple[Callable[[str], tuple[str, str]], Callable[[str], tuple[str, str]]]:
        users, orders = contract.entity("users"), contract.entity("orders")
        rnd = rng.random
        nxt = self._next
        ids = self._ids.buf
        next_id, refill_ids = ids.pop, self._ids.refill
        first_user_id = self.first_user_id
        names = tuple(_token(n) for n in pools.names)
        phones = tuple(_token(p) for p in pools.phone_numbers)
        # local part + "@" + domain is one JSON string: the local part's token without its end quote
        locals_ = tuple(_token(x)[:-1] for x in pools.email_locals)
        n_names, n_phones, n_locals = len(names), len(phones), len(locals_)
        domains = WeightedTable.from_mapping(users.field("email").email_domain_weights or {})
        domain_slots = tuple("@" + _token(str(d))[1:] for d in domains.slots)
        n_domains = len(domain_slots)
        # (gender, region) of a user: one 64-bit hash of (seed, user_id) -> one of G*R slot pairs
        gender = WeightedTable.from_mapping(users.field("gender").weights or {})
        region = WeightedTable.from_mapping(users.field("address").weights or {})
        attr_pairs = tuple((_token(g), _token(r)) for g in gender.slots for r in region.slots)
        n_pairs = len(attr_pairs)
        salt = seed_salt(self.seed)
        # (first, second) category: one draw over F*S slot pairs = exact joint weights
        first = WeightedTable.from_mapping(orders.field("first_category").weights or {})
        given = orders.field("second_category").weights_given or {}
        seconds = {c: WeightedTable.from_mapping(t) for c, t in given.items()}
        width = {t.total for t in seconds.values()}
        if len(width) != 1:
            raise ContractError("second_category weight sets must have equal sums")
        cat_pairs = tuple(
            (_token(f), _token(s))
            for f in first.slots
            for s in seconds[f].slots  # type: ignore[index]
        )
        n_cats = len(cat_pairs)
        product, price = orders.field("product_id"), orders.field("price")
        product_lo = product.min or 1
        n_products = (product.max or 1) - product_lo + 1
        step = price.step or 1
        price_lo = (price.min or 0) // step
        n_prices = (price.max or 0) // step - price_lo + 1
        products = tuple(str(product_lo + i) for i in range(n_products))
        prices = tuple(str((price_lo + i) * step) for i in range(n_prices))
        user_tpl = _template(contract, "users")
        order_tpl = _template(contract, "orders")

        def user(created_at: str) -> tuple[str, str]:
            uid = nxt[0]
            nxt[0] = uid + 1
            if not ids:
                refill_ids()
            x = (salt + uid * _GAMMA) & _M64
            x = ((x ^ (x >> 30)) * _C1) & _M64
            x = ((x ^ (x >> 27)) * _C2) & _M64
            g, r = attr_pairs[((x ^ (x >> 31)) * n_pairs) >> 64]
            key = str(uid)
            return key, user_tpl % (
                next_id(),
                key,
                names[int(rnd() * n_names)],
                locals_[int(rnd() * n_locals)] + domain_slots[int(rnd() * n_domains)],
                phones[int(rnd() * n_phones)],
                g,
                r,
                created_at,
            )

        def order(created_at: str) -> tuple[str, str]:
            n_users = nxt[0] - first_user_id
            if n_users <= 0:
                raise RuntimeError("an order needs an existing user: produce a user first")
            oid = nxt[1]
            nxt[1] = oid + 1
            if not ids:
                refill_ids()
            uid = first_user_id + int(rnd() * n_users)
            x = (salt + uid * _GAMMA) & _M64
            x = ((x ^ (x >> 30)) * _C1) & _M64
            x = ((x ^ (x >> 27)) * _C2) & _M64
            g, r = attr_pairs[((x ^ (x >> 31)) * n_pairs) >> 64]
            c1, c2 = cat_pairs[int(rnd() * n_cats)]
            key = str(oid)
            return key, order_tpl % (
                next_id(),
                key,
                uid,
                products[int(rnd() * n_products)],
                prices[int(rnd() * n_prices)],
                c1,
                c2,
                g,
                r,
                created_at,
            )

        return user, order
