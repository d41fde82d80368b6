"""The slices every dashboard shows, named once: mart dimension, contract weights, OpenSearch view.

A :class:`Dimension` ties together what the two paths call the same thing: the mart's
``dimension`` value (``sql/redshift/aggregate_*.sql``), the contract field whose exact weights are
the expected shares, and the OpenSearch Dashboards visualization (``realtime/saved_objects.py``) that slices
the real-time path by it. The report, ``shopstream mart ratios`` and the Redash dashboards read
this table; none of them lists dimensions of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopstream.contract import Contract

TITLES = {"users": "Sign-ups", "orders": "Orders"}
MEASURES = {"users": "signups", "orders": "orders"}  # the mart's count column per entity
MEASURE_LABELS = {"signups": "sign-ups", "orders": "orders", "revenue": "revenue (KRW)"}


@dataclass(frozen=True)
class Dimension:
    entity: str  # users | orders
    name: str  # the mart's dimension value
    title: str
    field: str  # the contract field holding the weights
    vis_id: str  # the OpenSearch Dashboards visualization slicing by it

    def expected(self, contract: Contract) -> dict[str, float]:
        """The contract's exact share of every value (shares sum to 1).

        A conditionally weighted field (``weights_by``) is keyed ``<given>/<value>`` like the mart,
        with share P(given) * P(value | given)."""
        f = contract.entity(self.entity).field(self.field)
        if f.weights_by is not None and f.weights_given is not None:
            outer = _shares(contract.weights(self.entity, f.weights_by))
            return {
                f"{given}/{value}": p_given * p
                for given, p_given in outer.items()
                for value, p in _shares(contract.weights(self.entity, self.field, given)).items()
            }
        return _shares(contract.weights(self.entity, self.field))


def _shares(weights: dict[str, int]) -> dict[str, float]:
    total = sum(weights.values())
    return {value: w / total for value, w in weights.items()}


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("users", "gender", "Sign-ups by gender", "gender", "shopstream-signups-by-gender"),
    Dimension("users", "region", "Sign-ups by region", "address", "shopstream-signups-by-region"),
    Dimension(
        "users", "email_domain", "Sign-ups by e-mail domain", "email", "shopstream-signups-by-email-domain"
    ),
    Dimension(
        "orders",
        "first_category",
        "Orders by category",
        "first_category",
        "shopstream-orders-by-first-category",
    ),
    Dimension(
        "orders",
        "second_category",
        "Orders by category/sub-category",
        "second_category",
        "shopstream-orders-by-second-category",
    ),
    Dimension("orders", "region", "Orders by buyer's region", "user_region", "shopstream-orders-by-region"),
    Dimension("orders", "gender", "Orders by buyer's gender", "user_gender", "shopstream-orders-by-gender"),
)

# per-hour series: (entity, measure) -> the OpenSearch visualization over time
SERIES_VIS = {
    ("users", "signups"): "shopstream-signups-over-time",
    ("orders", "orders"): "shopstream-orders-over-time",
    ("orders", "revenue"): "shopstream-revenue-over-time",
}


def for_entity(entity: str) -> tuple[Dimension, ...]:
    return tuple(d for d in DIMENSIONS if d.entity == entity)


def series(entity: str) -> list[str]:
    """The entity's per-hour measures: its count first, then the others (revenue)."""
    return [m for e, m in SERIES_VIS if e == entity]


def title(entity: str) -> str:
    return TITLES.get(entity, entity.capitalize())
