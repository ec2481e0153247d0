"""Territory accounting: who holds how many km² of each region under a deal.

Control codes per territorial option: UKRAINE (all returned), LINE (each side keeps what it
holds on the current line), BUFFER (Russia keeps its part, Ukraine's part becomes a
demilitarised zone held by neither), RUSSIA (all to Russia). "km² changing hands" is
measured against the line at the scenario's as-of date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UKRAINE, LINE, BUFFER, RUSSIA = 0, 1, 2, 3
CONTROL_CODES = {"ukraine": UKRAINE, "line": LINE, "buffer": BUFFER, "russia": RUSSIA}


@dataclass(frozen=True)
class Territory:
    """The territorial issues of a deal space with their areas, as-of shares and option semantics."""

    region_ids: tuple[str, ...]
    issue_index: np.ndarray  # (T,) position of each region's issue in the deal space
    area_km2: np.ndarray  # (T,)
    russia_share: np.ndarray  # (T,) Russia's share at the as-of date
    control: np.ndarray  # (T, max_options) control code per option (-1 = no such option)
    recognised: np.ndarray  # (T, max_options) bool, Russia's hold recognised de jure

    @property
    def n_regions(self) -> int:
        """Number of territorial issues."""
        return len(self.region_ids)

    def _codes(self, deals: np.ndarray) -> np.ndarray:
        options = np.asarray(deals)[..., self.issue_index]  # (..., T)
        return self.control[np.arange(self.n_regions), options]

    def shares(self, deals: np.ndarray, line: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(Russia's share, buffer share) per region under each deal; `line` is the current front (..., T)."""
        codes = self._codes(deals)
        line = self.russia_share if line is None else np.asarray(line)
        if line.ndim == codes.ndim:  # one line per deal already
            line_b = line
        else:  # (R, T) lines against (R, N, T) deals
            line_b = np.expand_dims(line, axis=-2) if line.ndim >= 2 else line
        line_b = np.broadcast_to(line_b, codes.shape)
        russia = np.where(codes == RUSSIA, 1.0, np.where(codes == UKRAINE, 0.0, line_b))
        buffer = np.where(codes == BUFFER, 1.0 - line_b, 0.0)
        return russia, buffer

    def accounting(self, deals: np.ndarray, line: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """km² per region held by Russia, Ukraine and the buffer zone, and what changes hands.

        Returns arrays shaped (..., T) for holdings and (...,) for totals:
        `russia_km2`, `ukraine_km2`, `buffer_km2`, `transferred_km2` (total area that changes
        hands against the as-of line), `russia_gain_km2` (signed: + means Russia gains).
        """
        russia, buffer = self.shares(deals, line)
        area = self.area_km2
        moved = np.abs(russia - self.russia_share) + buffer
        return {
            "russia_km2": russia * area,
            "ukraine_km2": (1.0 - russia - buffer) * area,
            "buffer_km2": buffer * area,
            "transferred_km2": (moved * area).sum(axis=-1),
            "russia_gain_km2": ((russia - self.russia_share) * area).sum(axis=-1),
        }

    def transferred(self, deals: np.ndarray, line: np.ndarray | None = None) -> np.ndarray:
        """Total km² changing hands against the as-of line, per deal."""
        return self.accounting(deals, line)["transferred_km2"]
