"""How far a path's counts are from the contract: deviation per value and a chi-square test.

The chi-square goodness-of-fit test asks whether the observed counts could be draws from the
contract's exact weights: statistic sum((O - E)^2 / E) over the contract's values, k - 1 degrees
of freedom, p-value from scipy's chi-square survival function. A value the contract does not
allow has expected count 0: the fit is impossible (statistic inf, p = 0).

Caveat shown on the page: orders carry their buyer's gender and region, and one user places
several orders, so for those two dimensions the sampling unit is the user, not the order; the
test treats orders as independent and its p-value is too small there (anti-conservative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Fit:
    n: int  # observed total
    statistic: float
    dof: int
    p_value: float
    max_deviation_pp: float  # largest |observed share - expected share|, percentage points


def chi_square(observed: dict[str, int], expected: dict[str, float]) -> Fit | None:
    """The fit of ``observed`` counts to ``expected`` shares (summing to 1); None when n = 0."""
    from scipy.stats import chi2

    n = sum(observed.values())
    if n == 0:
        return None
    values = set(expected) | set(observed)
    statistic = 0.0
    for v in values:
        e = n * expected.get(v, 0.0)
        o = observed.get(v, 0)
        if e == 0:
            if o:
                statistic = math.inf
            continue
        statistic += (o - e) ** 2 / e
    dof = max(len(expected) - 1, 1)
    p = 0.0 if math.isinf(statistic) else float(chi2.sf(statistic, dof))
    dev = max(abs(observed.get(v, 0) / n - expected.get(v, 0.0)) for v in values) * 100
    return Fit(n, statistic, dof, p, dev)
