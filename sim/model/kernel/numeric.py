"""Scalar building blocks of the kernels, each computing what its numpy counterpart computes.

Floating-point sums depend on their order, and an order that differs from numpy's moves the last
bit of a utility, which can tip a tie the other way. So the sums here follow numpy's own orders:
`esum` that of `np.einsum` over a contiguous axis (two SSE2 lanes, eight products per unrolled
step, as numpy's baseline build runs it), `npsum` that of `ndarray.sum` (sequential below eight
terms, eight pairwise accumulators above). Transcendental functions (exp, log, tanh) are libm's
here and numpy's SIMD ones there; they agree to within an ulp, far below anything the results
keep (tests/test_engine.py compares the engines' tables, floats to 9 decimals).
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, part

#: numpy's log(0.01): the mediator's objective turns linear below this surplus (see Mediated).
LOG_FLOOR = float(np.log(0.01))


@jit
def uix(i):
    """An index as numba reads it fastest: unsigned, so without the test for a negative index (one
    counting from the end), which costs a kernel's short inner loops up to a third of their time."""
    return np.uint64(i)


@jit
def esum(x, n):
    """sum(x[:n]) in np.einsum's order for a contiguous sum of products (written out, with unsigned
    indices: the sums are short and sit in the kernels' inner loops)."""
    l0 = 0.0
    l1 = 0.0
    i = 0
    while n - i >= 8:
        l0 = x[uix(i + 6)] + l0
        l1 = x[uix(i + 7)] + l1
        l0 = x[uix(i + 4)] + l0
        l1 = x[uix(i + 5)] + l1
        l0 = x[uix(i + 2)] + l0
        l1 = x[uix(i + 3)] + l1
        l0 = x[uix(i)] + l0
        l1 = x[uix(i + 1)] + l1
        i += 8
    while n - i >= 2:
        l0 = x[uix(i)] + l0
        l1 = x[uix(i + 1)] + l1
        i += 2
    if i < n:
        l0 = x[uix(i)] + l0
        l1 = 0.0 + l1
    return l0 + l1


@jit
def npsum(x, n):
    """sum(x[:n]) in ndarray.sum's order (numpy's pairwise summation, up to 128 terms)."""
    if n < 8:
        s = 0.0
        for i in range(n):
            s = s + x[i]
        return s
    r0, r1, r2, r3, r4, r5, r6, r7 = x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
    i = 8
    while i < n - (n % 8):
        r0 = r0 + x[i]
        r1 = r1 + x[i + 1]
        r2 = r2 + x[i + 2]
        r3 = r3 + x[i + 3]
        r4 = r4 + x[i + 4]
        r5 = r5 + x[i + 5]
        r6 = r6 + x[i + 6]
        r7 = r7 + x[i + 7]
        i += 8
    s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        s = s + x[i]
        i += 1
    return s


@jit
def clip(x, lo, hi):
    """np.clip for one float (nan stays nan)."""
    if np.isnan(x):
        return x
    # Written out, not min/max: numpy's order of comparisons decides which of two zeros comes back.
    y = x if x > lo else lo  # noqa: FURB136
    return y if y < hi else hi  # noqa: FURB136


@jit
def copy1(dst, src):
    """dst[:] = src, element by element (a slice assignment may allocate a temporary)."""
    for i in range(len(dst)):
        dst[i] = src[i]


@jit
def copy2(dst, src):
    """dst[:, :] = src, element by element."""
    for i in range(dst.shape[0]):
        for j in range(dst.shape[1]):
            dst[i, j] = src[i, j]


@jit
def fmax(a, b):
    """np.maximum for two floats."""
    if np.isnan(a):
        return a
    if np.isnan(b):
        return b
    return a if a >= b else b  # noqa: FURB136


@jit
def fmin(a, b):
    """np.minimum for two floats."""
    if np.isnan(a):
        return a
    if np.isnan(b):
        return b
    return a if a <= b else b  # noqa: FURB136


@jit
def power(x, y):
    """`ndarray ** y` for a scalar exponent: numpy's fast paths for 2, 0.5 and 1, else pow."""
    if y == 2.0:
        return x * x
    if y == 0.5:
        return np.sqrt(x)
    if y == 1.0:
        return x
    return x ** y


@jit
def acceptance_probability(margin, temperature):
    """sim.model.agents.acceptance_probability for one margin and temperature."""
    if temperature > 0:
        return 0.5 * (1.0 + np.tanh(margin / (2.0 * temperature)))
    return 1.0 if margin >= 0 else 0.0


@jit
def surplus_score(s):
    """sim.model.protocols.mediated.surplus_score for one surplus."""
    if s >= 0.01:
        return np.log(fmax(s, 0.01))
    return LOG_FLOOR + (s - 0.01) / 0.01


@jit
def deal_values(offsets, t_actor, t_affected, t_cond_issue, t_cond_mask, values, actor, deltas, deal, out):
    """out[i] = the actor's value of the deal's option on issue i, interaction terms applied and
    clipped as sim.domain.utility.issue_values does. A term that does not fire, or does not touch
    an option, adds +-0 there, which changes no value, so only the terms' hits are added.

    (offsets, t_actor, t_affected, t_cond_issue, t_cond_mask) are the deal space's offsets and
    the interaction terms (sim.domain.utility.InteractionTerms); kernels pass them on as they are.
    """
    n_issues = len(offsets)
    for i in range(n_issues):
        out[i] = values[actor, offsets[i] + deal[i]]
    n_terms = len(t_actor)
    if n_terms:
        for k in range(n_terms):
            if t_actor[k] != actor or not t_cond_mask[k, deal[t_cond_issue[k]]]:
                continue
            for i in range(n_issues):
                if t_affected[k, offsets[i] + deal[i]]:
                    out[i] = out[i] + deltas[k]
        for i in range(n_issues):
            out[i] = clip(out[i], 0.0, 1.0)


@jit
def deal_utility(offsets, t_actor, t_affected, t_cond_issue, t_cond_mask, values, weights, actor, deltas, deal,
                 scratch):
    """u_actor(deal), as game.utilities computes it (issue values, then einsum with the weights)."""
    n_issues = len(offsets)
    deal_values(offsets, t_actor, t_affected, t_cond_issue, t_cond_mask, values, actor, deltas, deal, scratch)
    for i in range(n_issues):
        scratch[i] = scratch[i] * weights[actor, i]
    return esum(scratch, n_issues)


@part
def deal_utilities(offsets, t_actor, t_affected, t_cond_issue, t_cond_mask, values, weights, deltas, deal, out,
                   scratch):
    """out[a] = u_a(deal) for every actor (compiled once and called: the proposer's search, whose
    evaluations are hot, inlines deal_utility itself)."""
    for a in range(weights.shape[0]):
        out[a] = deal_utility(offsets, t_actor, t_affected, t_cond_issue, t_cond_mask, values, weights, a, deltas,
                              deal, scratch)


@jit
def crosses_red_line(offsets, red_lines, actor, deal):
    """Whether the deal holds an option the actor will never sign."""
    for i in range(len(offsets)):
        if red_lines[actor, offsets[i] + deal[i]]:
            return True
    return False


@jit
def consent_needed(consent_issue, consent_actor, consent_default, signatory, deal, out):
    """out[a]: the deal needs actor a's consent beyond the signatories (NegotiationModel.consent_needed)."""
    out[:] = False
    for p in range(len(consent_issue)):
        if deal[consent_issue[p]] != consent_default[p]:
            out[consent_actor[p]] = True
    for a in range(len(out)):
        if signatory[a]:
            out[a] = False
