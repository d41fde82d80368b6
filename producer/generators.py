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
* ``event_id`` is ``uuid.UUID(int=rng.getrandbits(128), version=4)`` computed with integer
  masks (identical output, tested), so ``--seed`` reproduces every id.

Memory is constant: a factory holds the pools, the tables and two counters; nothing grows with
the number of events.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from producer.derive import GOLDEN_GAMMA as _GAMMA
from producer.derive import MASK64 as _M64
from producer.derive import UserAttributes, WeightedTable, seed_salt
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
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB


def uuid4_from_int(n: int) -> str:
    """``str(uuid.UUID(int=n, version=4))`` without building a UUID object."""
    h = "%032x" % ((n & _UUID_CLEAR) | _UUID_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _token(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _template(fields: tuple[str, ...]) -> str:
    return "{" + ",".join(f"{json.dumps(name)}:%s" for name in fields) + "}"


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
    clock, or a late event time).
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
        users, orders = contract.entity("users"), contract.entity("orders")
        self.seed = seed
        self._rng = random.Random(f"shopstream:{seed}:events")
        pools = pools or FakerPools.build(seed, pool_size)
        self._names = tuple(_token(n) for n in pools.names)
        self._phones = tuple(_token(p) for p in pools.phone_numbers)
        # local part + "@" + domain is one JSON string: escape the local part's body only.
        self._locals = tuple(_token(x)[:-1] for x in pools.email_locals)
        self._domains = WeightedTable.from_mapping(users.field("email").email_domain_weights or {}).map(
            lambda d: "@" + _token(str(d))[1:]
        )
        gender = WeightedTable.from_mapping(users.field("gender").weights or {}).map(_token)
        region = WeightedTable.from_mapping(users.field("address").weights or {}).map(_token)
        self._attrs = UserAttributes(seed, gender, region)  # type: ignore[arg-type]
        self._gender, self._region, self._salt = gender, region, seed_salt(seed)
        first = orders.field("first_category")
        second = orders.field("second_category")
        self._first = WeightedTable.from_mapping(first.weights or {})
        self._second = {
            cat: WeightedTable.from_mapping(table).map(_token) for cat, table in (second.weights_given or {}).items()
        }
        # one table of (first token, second table) so an order costs one lookup per category
        self._first_pairs = self._first.map(lambda c: (_token(str(c)), self._second[str(c)]))
        product = orders.field("product_id")
        price = orders.field("price")
        self._product_lo = product.min or 1
        self._product_n = (product.max or 1) - self._product_lo + 1
        self._price_step = price.step or 1
        self._price_lo = (price.min or 0) // self._price_step
        self._price_n = (price.max or 0) // self._price_step - self._price_lo + 1
        self._user_version = users.schema_version
        self._order_version = orders.schema_version
        self._user_tpl = _template(USER_FIELDS)
        self._order_tpl = _template(ORDER_FIELDS)
        self.first_user_id = first_user_id
        self.next_user_id = first_user_id
        self.next_order_id = first_order_id

    @property
    def users_created(self) -> int:
        return self.next_user_id - self.first_user_id

    def user(self, created_at: str) -> tuple[str, str]:
        rnd = self._rng.random
        uid = self.next_user_id
        self.next_user_id = uid + 1
        eid = uuid4_from_int(self._rng.getrandbits(128))
        names, phones, locals_ = self._names, self._phones, self._locals
        domains = self._domains
        # UserAttributes inlined (hot path): splitmix64 of (salt + uid * gamma)
        x = (self._salt + uid * _GAMMA) & _M64
        x = ((x ^ (x >> 30)) * _C1) & _M64
        x = ((x ^ (x >> 27)) * _C2) & _M64
        h = x ^ (x >> 31)
        g, r = self._gender, self._region
        value = self._user_tpl % (
            f'"{eid}"',
            self._user_version,
            uid,
            names[int(rnd() * len(names))],
            locals_[int(rnd() * len(locals_))] + domains.slots[int(rnd() * domains.total)],
            phones[int(rnd() * len(phones))],
            g.slots[((h & 0xFFFFFFFF) * g.total) >> 32],
            r.slots[((h >> 32) * r.total) >> 32],
            f'"{created_at}"',
        )
        return str(uid), value

    def order(self, created_at: str) -> tuple[str, str]:
        n_users = self.next_user_id - self.first_user_id
        if n_users <= 0:
            raise RuntimeError("an order needs an existing user: produce a user first")
        rnd = self._rng.random
        oid = self.next_order_id
        self.next_order_id = oid + 1
        eid = uuid4_from_int(self._rng.getrandbits(128))
        uid = self.first_user_id + int(rnd() * n_users)
        first_token, second = self._first_pairs.slots[int(rnd() * self._first_pairs.total)]
        x = (self._salt + uid * _GAMMA) & _M64
        x = ((x ^ (x >> 30)) * _C1) & _M64
        x = ((x ^ (x >> 27)) * _C2) & _M64
        h = x ^ (x >> 31)
        g, r = self._gender, self._region
        value = self._order_tpl % (
            f'"{eid}"',
            self._order_version,
            oid,
            uid,
            self._product_lo + int(rnd() * self._product_n),
            (self._price_lo + int(rnd() * self._price_n)) * self._price_step,
            first_token,
            second.slots[int(rnd() * second.total)],
            g.slots[((h & 0xFFFFFFFF) * g.total) >> 32],
            r.slots[((h >> 32) * r.total) >> 32],
            f'"{created_at}"',
        )
        return str(oid), value
