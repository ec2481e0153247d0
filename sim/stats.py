"""Small statistics every layer shares: the Wilson score interval for a binomial proportion.

It sits in the base layer so that the analysis (ZOPA estimates), the results summary, the
figures and the report all use one definition of "95% interval" for a share of runs or deals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

#: The two-sided 95% normal quantile the intervals use by default.
Z95 = 1.959964


def wilson_interval(successes: ArrayLike, n: ArrayLike, z: float = Z95) -> tuple[Any, Any]:
    """Wilson score interval for binomial proportions (95% by default); (0, 1) where n is 0.

    Counts given as numbers give a pair of floats; arrays of counts give a pair of arrays.
    """
    k = np.asarray(successes, dtype=float)
    total = np.asarray(n, dtype=float)
    # Where n is 0 the formula divides by zero; compute with 1 there, then override with (0, 1).
    safe = np.where(total > 0, total, 1.0)
    p = k / safe
    denom = 1 + z * z / safe
    centre = (p + z * z / (2 * safe)) / denom
    half = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe)) / denom
    low = np.where(total > 0, np.maximum(0.0, centre - half), 0.0)
    high = np.where(total > 0, np.minimum(1.0, centre + half), 1.0)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high
