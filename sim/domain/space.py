"""The deal space: issues, their options, and deals as integer vectors (one option per issue).

The space is the product of the options and routinely exceeds 10^6 deals, so nothing here
enumerates it unless asked with an explicit limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np


@dataclass(frozen=True)
class DealSpace:
    """Issues and options in a fixed order; a deal is an int array of option indices, one per issue."""

    issue_ids: tuple[str, ...]
    option_ids: tuple[tuple[str, ...], ...]
    defaults: tuple[int, ...]

    @property
    def n_issues(self) -> int:
        """Number of issues."""
        return len(self.issue_ids)

    @property
    def n_options(self) -> np.ndarray:
        """Options per issue."""
        return np.array([len(o) for o in self.option_ids], dtype=np.int64)

    @property
    def offsets(self) -> np.ndarray:
        """Where each issue's options start in the flat option index."""
        return np.concatenate([[0], np.cumsum(self.n_options)[:-1]]).astype(np.int64)

    @property
    def n_flat(self) -> int:
        """Total number of options over all issues."""
        return int(self.n_options.sum())

    @property
    def size(self) -> int:
        """Number of deals (exact, as a Python int)."""
        return prod(len(o) for o in self.option_ids)

    def issue_index(self, issue_id: str) -> int:
        """Position of an issue."""
        return self.issue_ids.index(issue_id)

    def encode(self, options: dict[str, str]) -> np.ndarray:
        """A deal from {issue: option}; issues not named take their default."""
        deal = np.array(self.defaults, dtype=np.int64)
        for issue_id, option_id in options.items():
            i = self.issue_index(issue_id)
            deal[i] = self.option_ids[i].index(option_id)
        return deal

    def describe(self, deal: np.ndarray) -> dict[str, str]:
        """{issue: option} for one deal."""
        return {iid: self.option_ids[i][int(deal[i])] for i, iid in enumerate(self.issue_ids)}

    def from_index(self, index: np.ndarray) -> np.ndarray:
        """Deals (N, I) from flat indices in mixed radix, last issue fastest."""
        index = np.asarray(index, dtype=np.int64)
        out = np.empty(index.shape + (self.n_issues,), dtype=np.int64)
        rest = index.copy()
        for i in range(self.n_issues - 1, -1, -1):
            n = len(self.option_ids[i])
            out[..., i] = rest % n
            rest //= n
        return out

    def to_index(self, deals: np.ndarray) -> np.ndarray:
        """Flat indices of deals (inverse of from_index)."""
        deals = np.asarray(deals, dtype=np.int64)
        index = np.zeros(deals.shape[:-1], dtype=np.int64)
        for i in range(self.n_issues):
            index = index * len(self.option_ids[i]) + deals[..., i]
        return index

    def enumerate(self, limit: int = 2_000_000) -> np.ndarray:
        """Every deal, as (size, I); refuses spaces larger than `limit`."""
        if self.size > limit:
            raise ValueError(f"deal space has {self.size:,} deals, more than the limit {limit:,}")
        return self.from_index(np.arange(self.size))
