"""Scenario discovery by a classification tree (scikit-learn's CART), as a check on PRIM's boxes.

A shallow tree splits the input space into leaves; each leaf whose cases are mostly of interest
is a box, with the same coverage, density and support as PRIM's. Trees find boxes PRIM's greedy
peeling can miss (and the reverse), so agreement between the two is worth more than either.
scikit-learn is an optional extra (`pip install 'negsim[discover]'`): without it the tree is
skipped and `tree_boxes` says why.
"""

from __future__ import annotations

import math

import numpy as np

from sim.insight.prim import Box, Inputs, Step, full_box

#: Depth of the tree: a box restricts at most this many inputs, which keeps it readable.
MAX_DEPTH = 3


def sklearn_missing() -> str | None:
    """Why the tree cannot run here, or None if scikit-learn is installed."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return "scikit-learn is not installed (pip install 'negsim[discover]'): the decision tree was skipped"
    return None


def _encode(inputs: Inputs) -> tuple[np.ndarray, list[tuple[int, float | None]]]:
    """Numeric inputs as they are, categorical ones one-hot; and what each column is (input, code or None)."""
    cols, meaning = [], []
    for j, cats in enumerate(inputs.categories):
        if cats is None:
            cols.append(inputs.x[:, j])
            meaning.append((j, None))
        else:
            for code in np.unique(inputs.x[:, j]):
                cols.append((inputs.x[:, j] == code).astype(float))
                meaning.append((j, float(code)))
    return np.column_stack(cols), meaning


def _leaf_box(inputs: Inputs, constraints: list[tuple[int, bool, float]], meaning) -> Box:
    """The box of a leaf from its path's splits (column, went left, threshold), at data values."""
    box = full_box(inputs)
    for col, left, threshold in constraints:
        j, code = meaning[col]
        lim = box.limits[j]
        if code is not None:
            # A one-hot split: left (<= 0.5) leaves the category out, right keeps only it.
            box = box.replace(j, lim - {code} if left else lim & {code})
            continue
        values = inputs.x[:, j]
        if left:
            kept = values[values <= threshold]
            box = box.replace(j, (lim[0], min(lim[1], float(kept.max()))))
        else:
            kept = values[values > threshold]
            box = box.replace(j, (max(lim[0], float(kept.min())), lim[1]))
    return box


def tree_boxes(inputs: Inputs, y: np.ndarray, min_support: float, max_depth: int = MAX_DEPTH,
               seed: int = 0) -> list[Step]:
    """The leaves of a CART tree whose cases are mostly of interest (y = 1), densest first.

    Raises ImportError when scikit-learn is missing (see sklearn_missing).
    """
    from sklearn.tree import DecisionTreeClassifier

    y = np.asarray(y, dtype=float)
    if not y.any():
        return []
    if y.all():  # a tree cannot split one class: the whole space is the one box
        return [Step(full_box(inputs), inputs.n, 1.0, 1.0, 1.0)]
    x, meaning = _encode(inputs)
    leaf_size = max(1, math.ceil(min_support * inputs.n - 1e-9))
    model = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=leaf_size, random_state=seed)
    model.fit(x, y.astype(int))
    tree = model.tree_
    total = float(y.sum())
    out: list[Step] = []

    def walk(node: int, path: list[tuple[int, bool, float]]) -> None:
        left, right = tree.children_left[node], tree.children_right[node]
        if left == right:  # a leaf
            box = _leaf_box(inputs, path, meaning)
            inside = box.contains(inputs)
            count = int(inside.sum())
            hits = float(y[inside].sum())
            if count and hits / count >= 0.5:
                out.append(Step(box, count, hits / count, hits / total, count / inputs.n))
            return
        feature, threshold = int(tree.feature[node]), float(tree.threshold[node])
        walk(left, path + [(feature, True, threshold)])
        walk(right, path + [(feature, False, threshold)])

    walk(0, [])
    return sorted(out, key=lambda s: (-s.mean, -s.coverage))
