"""Territory accounting: who holds how many km² of each region, under a deal and on the front line.

Nothing here knows any particular conflict: every region names its own holders (actor ids of
the scenario, two or more), and each territorial option says who controls the land.

Parties of a region: its holders (in the order the scenario's `held` lists them), then any other
actor an option gives the whole region to (they hold none of it on the line). A line of shares
is an array (..., T, P): the share of region t each party holds, P the most parties of any
region (padding zeros past a region's own). The last holder of a region always holds the
remainder, 1 minus the other holders' shares; keeping that rule everywhere makes a two-holder
region's numbers those of a single share (the first holder's) exactly.

Control codes per option: a party index >= 0 (the whole region to that party), LINE (each
holder keeps what it holds on the front line), BUFFER (a named holder's part on the line
becomes a demilitarised zone held by nobody; the others keep theirs), INTERNATIONAL (the whole
region to an administration held by no party).

"km² changing hands" is measured against the line at the scenario's as-of date: the land that
changes holder between the parties, a zone counted as still held by whoever held it on the line
(half the absolute changes of the parties' shares), plus the land that goes into a zone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_OPTION, LINE, BUFFER, INTERNATIONAL = -1, -2, -3, -4
KEYWORD_CODES = {"line": LINE, "buffer": BUFFER, "international": INTERNATIONAL}


@dataclass(frozen=True)
class Territory:
    """The territorial issues of a deal space: areas, holders, as-of shares and option semantics."""

    region_ids: tuple[str, ...]
    issue_index: np.ndarray  # (T,) position of each region's issue in the deal space
    area_km2: np.ndarray  # (T,)
    parties: tuple[tuple[str, ...], ...]  # per region: its holders, then other actors an option gives it to
    n_holders: np.ndarray  # (T,) how many of a region's parties hold part of it at the as-of date
    held0: np.ndarray  # (T, P) each party's share at the as-of date (the last holder has the remainder)
    control: np.ndarray  # (T, max_options) control code per option (NO_OPTION = no such option)
    carved_from: np.ndarray  # (T, max_options) party index a buffer is carved from, -1 otherwise
    recognised: np.ndarray  # (T, max_options) bool: the settlement is legally recognised (de jure)
    landholders: tuple[str, ...]  # every actor that is a party of some region, in the scenario's actor order
    party_of: np.ndarray  # (K, T) each landholder's party index in each region, -1 if not a party there

    @classmethod
    def empty(cls) -> Territory:
        """The territory of a deal space without regions."""
        none = np.zeros(0, dtype=np.int64)
        return cls((), none, np.zeros(0), (), none, np.zeros((0, 0)), np.zeros((0, 1), dtype=np.int64),
                   np.zeros((0, 1), dtype=np.int64), np.zeros((0, 1), dtype=bool), (), np.zeros((0, 0), dtype=np.int64))

    @property
    def n_regions(self) -> int:
        """Number of territorial issues."""
        return len(self.region_ids)

    @property
    def n_parties(self) -> int:
        """P: the most parties of any region (the last axis of a line)."""
        return self.held0.shape[1] if self.held0.ndim == 2 else 0

    def holders(self, t: int) -> tuple[str, ...]:
        """The actors holding part of region t on the line, in the scenario's order."""
        return self.parties[t][: int(self.n_holders[t])]

    # -- the front line -------------------------------------------------------------------

    def kept_mask(self) -> np.ndarray:
        """(T, P) bool: the holders whose shares are kept (every holder but the last)."""
        k = np.arange(self.n_parties)
        return k[None, :] < (self.n_holders - 1)[:, None]

    def last_mask(self) -> np.ndarray:
        """(T, P) bool: each region's last holder, whose share is the remainder."""
        k = np.arange(self.n_parties)
        return k[None, :] == (self.n_holders - 1)[:, None]

    def settle(self, line: np.ndarray) -> np.ndarray:
        """Give each region's last holder the remainder, in place; return `line`."""
        explicit, last = self.kept_mask(), self.last_mask()
        rest = np.maximum(1.0 - np.where(explicit, line, 0.0).sum(axis=-1), 0.0)
        line[...] = np.where(last, rest[..., None], line)
        return line

    def shift(self, line: np.ndarray, gainer: np.ndarray, loser: np.ndarray, amount: np.ndarray) -> np.ndarray:
        """A new line (..., T, P): in each region t with gainer[t] >= 0, that party takes `amount`
        (..., T), a share of the region (negative: the loser gains), from loser[t], as far as the
        loser (or the gainer) has land. Regions whose gainer is -1 do not move.
        """
        out = np.array(line, dtype=float, copy=True)
        explicit = self.kept_mask()
        for t in np.flatnonzero(gainer >= 0):
            g, lo = int(gainer[t]), int(loser[t])
            last = int(self.n_holders[t]) - 1
            x = amount[..., t]
            if g == last or lo == last:
                # One share is kept, the other is the remainder: move the kept one within what
                # the other holders leave (for two holders, [0, 1]).
                e, x = (g, x) if lo == last else (lo, -x)
                others = explicit[t].copy()
                others[e] = False
                bound = 1.0 - np.where(others, out[..., t, :], 0.0).sum(axis=-1)
                out[..., t, e] = np.clip(out[..., t, e] + x, 0.0, bound)
            else:
                moved = np.clip(x, -out[..., t, g], out[..., t, lo])
                out[..., t, g] = out[..., t, g] + moved
                out[..., t, lo] = out[..., t, lo] - moved
        return self.settle(out)

    def changes(self, shares: np.ndarray) -> np.ndarray:
        """(..., T, P) each party's change of share against the as-of line; the last holder's is
        minus the sum of the others' (so the changes of a region sum to exactly 0)."""
        delta = np.asarray(shares, dtype=float) - self.held0
        last = self.last_mask()
        rest = -np.where(last, 0.0, delta).sum(axis=-1)
        return np.where(last, rest[..., None], delta)

    # -- deals ---------------------------------------------------------------------------------

    def _codes(self, deals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        options = np.asarray(deals)[..., self.issue_index]  # (..., T)
        rows = np.arange(self.n_regions)
        return self.control[rows, options], self.carved_from[rows, options]

    def allocation(self, deals: np.ndarray, line: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Who holds each region under each deal: `held` (..., T, P) shares per party, `buffer` and
        `international` (..., T) shares held by nobody, and `line` (..., T, P) the front line the
        deals were read against (the as-of line when `line` is None)."""
        codes, source = self._codes(deals)
        line = self.held0 if line is None else np.asarray(line, dtype=float)
        if line.ndim >= 3 and line.ndim - 1 < codes.ndim:  # (R, T, P) lines against (R, N, T) deals
            line = np.expand_dims(line, axis=-3)
        line = np.broadcast_to(line, codes.shape + (self.n_parties,))
        party = np.arange(self.n_parties)
        c = codes[..., None]
        on_line = (c == LINE) | ((c == BUFFER) & (source[..., None] != party))
        held = np.where(c == party, 1.0, np.where(on_line, line, 0.0))
        buffer = np.where(codes == BUFFER, np.take_along_axis(line, np.maximum(source, 0)[..., None], -1)[..., 0],
                          0.0)
        international = np.where(codes == INTERNATIONAL, 1.0, 0.0)
        return {"held": held, "buffer": buffer, "international": international, "line": line}

    def accounting(self, deals: np.ndarray, line: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """km² per region held by each party and by nobody, and what changes hands, under each deal.

        Returns `held_km2` (..., T, P), `buffer_km2` and `international_km2` (..., T),
        `transferred_km2` (...,) the total area changing hands against the as-of line, and
        `gain_km2` (..., K) each landholder's net gain against the as-of line (signed: + gains),
        its columns in `landholders` order.
        """
        alloc = self.allocation(deals, line)
        held, buffer, international = alloc["held"], alloc["buffer"], alloc["international"]
        area = self.area_km2
        # Before the zones: a buffer is still its source's, an international region the line's.
        codes, source = self._codes(deals)
        c = codes[..., None]
        party = np.arange(self.n_parties)
        before = np.where(c == INTERNATIONAL, alloc["line"],
                          np.where((c == BUFFER) & (source[..., None] == party), alloc["line"], held))
        moved = np.maximum(self.changes(before), 0.0).sum(axis=-1) + buffer + international
        gained = (held - self.held0) * area[:, None]  # (..., T, P)
        gain = np.zeros(held.shape[:-2] + (len(self.landholders),))
        for k in range(len(self.landholders)):
            idx = self.party_of[k]
            per_region = np.where(idx >= 0, np.take_along_axis(
                gained, np.broadcast_to(np.maximum(idx, 0)[:, None], gained.shape[:-1] + (1,)), -1)[..., 0], 0.0)
            gain[..., k] = per_region.sum(axis=-1)
        return {
            "held_km2": held * area[:, None],
            "buffer_km2": buffer * area,
            "international_km2": international * area,
            "transferred_km2": (moved * area).sum(axis=-1),
            "gain_km2": gain,
        }

    def transferred(self, deals: np.ndarray, line: np.ndarray | None = None) -> np.ndarray:
        """Total km² changing hands against the as-of line, per deal."""
        return self.accounting(deals, line)["transferred_km2"]
