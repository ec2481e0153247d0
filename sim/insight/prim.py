"""PRIM, the patient rule induction method (Friedman & Fisher 1999, Statistics and Computing 9:123-143).

Finds boxes (a range per numeric input, a set of kept values per categorical one) in which the
mean of an output is high: with a 0/1 output (1 = a case of interest) the box mean is the
box's *density*, the share of all cases of interest it holds its *coverage*, and the share of
all cases it holds its *support* (F&F's mass beta).

- **Peeling** starts from the box holding every case and repeatedly removes
  the slice that most improves the box: for every numeric input the `alpha` share of the box's
  cases with the lowest values, or with the highest, and for every categorical input one of its
  values. The winner is the slice with the largest gain in mean per case removed; when every
  candidate removes the same number of cases (numeric inputs without ties) this is F&F's rule
  of the largest remaining mean, and it stays fair when ties or categories make slices unequal.
  Peeling stops before the box would hold fewer than `min_support` of all
  cases, or when the box is pure. The boxes it passes through are the *trajectory*: from high
  coverage and low density to low coverage and high density.
- **Pasting** takes the chosen box and enlarges it again, one face at a time,
  by about `alpha` of its cases (or one category), choosing the face that gives the largest
  mean, until every enlargement would lower the mean: peeling decides early boundaries
  greedily and pasting corrects them (and recovers coverage that peeling's coarse steps lost).
- **Releasing**: a restriction whose removal keeps the box's mean is dropped, since it only
  narrows the box (in the spirit of Bryant & Lempert 2010, who keep only restrictions that matter).
- **Covering**: the cases inside a box are removed and the search repeats on
  the rest, giving further, disjoint boxes.

Which box of the trajectory to report is the user's trade-off between coverage and density
(Bryant & Lempert 2010, Technol. Forecast. Soc. Change 77(1)); `find_boxes` takes the box of
largest support whose density reaches `min_density` (else the densest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: F&F's recommended peeling share (they advise 0.05-0.10).
ALPHA = 0.05
#: Smallest box, as a share of all cases.
MIN_SUPPORT = 0.05
#: Density a reported box should reach.
MIN_DENSITY = 0.8


@dataclass(frozen=True)
class Inputs:
    """The cases' inputs: one float column per input; categorical columns hold codes into `categories`."""

    names: tuple[str, ...]
    x: np.ndarray  # (n, d) floats; a categorical input holds its value's index into categories[j]
    categories: tuple[tuple | None, ...]  # per input: the values of a categorical input, None if numeric

    @classmethod
    def from_columns(cls, columns: dict[str, Sequence]) -> Inputs:
        """Inputs from named columns; numbers (not booleans) are numeric, anything else categorical."""
        names, cols, cats = [], [], []
        for name, values in columns.items():
            values = list(values)
            numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                          for v in values)
            names.append(name)
            if numeric:
                cols.append(np.asarray(values, dtype=float))
                cats.append(None)
            else:
                levels = tuple(sorted(set(values), key=lambda v: (str(type(v)), v)))
                index = {v: k for k, v in enumerate(levels)}
                cols.append(np.array([index[v] for v in values], dtype=float))
                cats.append(levels)
        x = np.column_stack(cols) if cols else np.empty((0, 0))
        return cls(tuple(names), x, tuple(cats))

    @property
    def n(self) -> int:
        """Number of cases."""
        return self.x.shape[0]


@dataclass(frozen=True)
class Box:
    """Per input: (low, high) inclusive for a numeric one, the frozenset of kept codes for a categorical one."""

    limits: tuple

    def contains(self, inputs: Inputs, skip: int | None = None) -> np.ndarray:
        """Which cases lie in the box (ignoring input `skip`'s limits, if given)."""
        inside = np.ones(inputs.n, dtype=bool)
        for j, lim in enumerate(self.limits):
            if j == skip:
                continue
            col = inputs.x[:, j]
            if isinstance(lim, frozenset):
                inside &= np.isin(col, list(lim))
            else:
                inside &= (col >= lim[0]) & (col <= lim[1])
        return inside

    def restricted(self, inputs: Inputs) -> list[int]:
        """The inputs whose limits leave out some case of the data."""
        whole = full_box(inputs).limits
        return [j for j, (lim, all_) in enumerate(zip(self.limits, whole)) if lim != all_]

    def replace(self, j: int, lim) -> Box:
        """The box with input j's limits replaced."""
        return Box(self.limits[:j] + (lim,) + self.limits[j + 1:])


def full_box(inputs: Inputs) -> Box:
    """The box holding every case."""
    limits = []
    for j, cats in enumerate(inputs.categories):
        col = inputs.x[:, j]
        if cats is not None:
            limits.append(frozenset(float(c) for c in np.unique(col)))
        else:
            limits.append((float(col.min()), float(col.max())) if len(col) else (-np.inf, np.inf))
    return Box(tuple(limits))


@dataclass
class Step:
    """A box with its statistics on the cases it was found among."""

    box: Box
    count: int  # cases inside
    mean: float  # box mean of y: the density for a 0/1 output
    coverage: float  # share of the whole data's total y inside
    support: float  # share of the whole data's cases inside


@dataclass
class PrimResult:
    """One box of a covering: the peeling trajectory, the chosen step, and the box after pasting."""

    trajectory: list[Step]
    chosen: int  # index into trajectory
    pasted: Step
    meets_target: bool
    available: np.ndarray  # the cases it was found among: those no earlier box holds
    p_values: dict[int, float] = field(default_factory=dict)  # per restricted input (0/1 outputs only)

    def restricted(self, inputs: Inputs) -> list[int]:
        """The inputs whose limits leave out some of the cases the box was found among."""
        return self.pasted.box.restricted(Inputs(inputs.names, inputs.x[self.available], inputs.categories))


def _stats(box: Box, inside: np.ndarray, y: np.ndarray, total_y: float, n_all: int) -> Step:
    count = int(inside.sum())
    mean = float(y[inside].mean()) if count else 0.0
    coverage = float(y[inside].sum() / total_y) if total_y > 0 else 0.0
    return Step(box, count, mean, coverage, count / n_all)


def _numeric_peels(col: np.ndarray, lim: tuple[float, float], alpha: float) -> list[tuple[float, float]]:
    """The limits after peeling the lowest and the highest `alpha` share of the box's values."""
    values = np.sort(col)
    if values[0] == values[-1]:
        return []
    k = max(1, math.ceil(alpha * len(values) - 1e-9))
    distinct = np.unique(values)
    low = values[min(k, len(values) - 1)]
    if low == values[0]:  # ties at the bottom hold more than alpha of the cases: peel the tied value
        low = distinct[1]
    high = values[max(len(values) - 1 - k, 0)]
    if high == values[-1]:
        high = distinct[-2]
    return [(float(low), lim[1]), (lim[0], float(high))]


def _candidates(inputs: Inputs, box: Box, inside: np.ndarray, alpha: float) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    for j, lim in enumerate(box.limits):
        col = inputs.x[inside, j]
        if isinstance(lim, frozenset):
            present = np.unique(col)
            if len(present) > 1:
                out += [(j, frozenset(float(c) for c in present if c != drop)) for drop in present]
        else:
            out += [(j, new) for new in _numeric_peels(col, lim, alpha)]
    return out


def peel(inputs: Inputs, y: np.ndarray, available: np.ndarray, alpha: float = ALPHA,
         min_count: int = 1, total_y: float | None = None) -> list[Step]:
    """F&F's top-down peeling among the `available` cases: the trajectory of boxes, widest first."""
    n_all = inputs.n
    total_y = float(y.sum()) if total_y is None else total_y
    box = full_box(Inputs(inputs.names, inputs.x[available], inputs.categories))
    inside = available & box.contains(inputs)
    trajectory = [_stats(box, inside, y, total_y, n_all)]
    top = float(y[available].max()) if available.any() else 0.0
    while trajectory[-1].mean < top:
        current = trajectory[-1]
        best, best_gain = None, -np.inf
        for j, lim in _candidates(inputs, box, inside, alpha):
            trial = box.replace(j, lim)
            kept = inside & trial.contains(inputs)
            count = int(kept.sum())
            if count < min_count or count == current.count:
                continue
            gain = (float(y[kept].mean()) - current.mean) / (current.count - count)
            if gain > best_gain + 1e-15:
                best, best_gain = (trial, kept), gain
        if best is None:
            break
        box, inside = best
        trajectory.append(_stats(box, inside, y, total_y, n_all))
    return trajectory


def paste(inputs: Inputs, y: np.ndarray, available: np.ndarray, start: Box, alpha: float = ALPHA,
          total_y: float | None = None) -> Step:
    """F&F's bottom-up pasting: enlarge the box face by face, the best face first, until its mean would fall."""
    total_y = float(y.sum()) if total_y is None else total_y
    box = start
    inside = available & box.contains(inputs)
    current = _stats(box, inside, y, total_y, inputs.n)
    while True:
        best = None
        for j, lim in enumerate(box.limits):
            others = available & box.contains(inputs, skip=j)
            for trial in _pastes(inputs.x[:, j], others & ~inside, lim, max(1, math.ceil(alpha * current.count))):
                candidate = box.replace(j, trial)
                kept = available & candidate.contains(inputs)
                step = _stats(candidate, kept, y, total_y, inputs.n)
                if step.mean >= current.mean - 1e-12 and (best is None or step.mean > best[0].mean):
                    best = (step, kept)
        if best is None:
            return current
        current, inside = best
        box = current.box


def _pastes(col: np.ndarray, outside: np.ndarray, lim, k: int) -> list:
    """The limits after adding about k outside cases below the box, above it, or one category."""
    if isinstance(lim, frozenset):
        return [lim | {float(c)} for c in np.unique(col[outside]) if float(c) not in lim]
    out = []
    below = np.sort(col[outside & (col < lim[0])])[::-1]
    if len(below):
        out.append((float(below[min(k, len(below)) - 1]), lim[1]))
    above = np.sort(col[outside & (col > lim[1])])
    if len(above):
        out.append((lim[0], float(above[min(k, len(above)) - 1])))
    return out


def release_idle(inputs: Inputs, y: np.ndarray, available: np.ndarray, step: Step,
                 total_y: float | None = None) -> Step:
    """Drop every restriction whose release does not lower the box's mean, the least needed first.

    Such a restriction only narrows the box: releasing it keeps the density and adds coverage.
    """
    total_y = float(y.sum()) if total_y is None else total_y
    data = Inputs(inputs.names, inputs.x[available], inputs.categories)
    whole = full_box(data).limits
    while True:
        best = None
        for j in step.box.restricted(data):
            trial = step.box.replace(j, whole[j])
            kept = available & trial.contains(inputs)
            candidate = _stats(trial, kept, y, total_y, inputs.n)
            if candidate.mean >= step.mean - 1e-12 and (best is None or candidate.mean > best.mean):
                best = candidate
        if best is None:
            return step
        step = best


def choose(trajectory: list[Step], min_density: float) -> tuple[int, bool]:
    """The step of largest support whose mean reaches `min_density`, else the densest; and whether it reached it."""
    reaching = [i for i, s in enumerate(trajectory) if s.mean >= min_density - 1e-12]
    if reaching:
        return max(reaching, key=lambda i: (trajectory[i].support, -i)), True
    return max(range(len(trajectory)), key=lambda i: (trajectory[i].mean, trajectory[i].support)), False


def restriction_p_values(inputs: Inputs, y: np.ndarray, available: np.ndarray, box: Box) -> dict[int, float]:
    """Per restricted input, the one-sided hypergeometric p-value of the box's density against the box
    without that restriction (Bryant & Lempert 2010's quasi-p-values): how likely a random subset of the
    relaxed box, as large as the box, holds as many cases of interest. Only for a 0/1 output."""
    from scipy.stats import hypergeom

    inside = available & box.contains(inputs)
    hits, count = int(y[inside].sum()), int(inside.sum())
    out = {}
    for j in box.restricted(Inputs(inputs.names, inputs.x[available], inputs.categories)):
        relaxed = available & box.contains(inputs, skip=j)
        population, interesting = int(relaxed.sum()), int(y[relaxed].sum())
        out[j] = float(hypergeom.sf(hits - 1, population, interesting, count))
    return out


def find_boxes(inputs: Inputs, y: Sequence[float], alpha: float = ALPHA, min_support: float = MIN_SUPPORT,
               min_density: float = MIN_DENSITY, max_boxes: int = 3) -> list[PrimResult]:
    """PRIM with covering: up to `max_boxes` disjoint boxes; later boxes only if they reach `min_density`.

    y is the output per case (0/1 for scenario discovery). Coverage and support are shares of
    the whole data; a later box's density and trajectory are computed on the cases no earlier
    box holds.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 < min_support <= 1:
        raise ValueError(f"min_support must be in (0, 1], got {min_support}")
    y = np.asarray(y, dtype=float)
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    available = np.ones(inputs.n, dtype=bool)
    total_y = float(y.sum())
    min_count = max(1, math.ceil(min_support * inputs.n - 1e-9))
    results: list[PrimResult] = []
    while len(results) < max_boxes and available.sum() >= min_count and y[available].sum() > 0:
        trajectory = peel(inputs, y, available, alpha, min_count, total_y)
        chosen, meets = choose(trajectory, min_density)
        if results and not meets:
            break
        pasted = paste(inputs, y, available, trajectory[chosen].box, alpha, total_y)
        pasted = release_idle(inputs, y, available, pasted, total_y)
        p_values = restriction_p_values(inputs, y, available, pasted.box) if binary else {}
        results.append(PrimResult(trajectory, chosen, pasted, meets, available.copy(), p_values))
        available &= ~pasted.box.contains(inputs)
    return results
