"""Insight from results: scenario discovery (PRIM boxes, a decision tree) and an actor's leverage on an issue.

    sim.insight.prim       PRIM (Friedman & Fisher 1999): peeling, pasting, covering
    sim.insight.tree       the same boxes from a scikit-learn classification tree (optional extra)
    sim.insight.discovery  a sweep or sensitivity design -> cases -> boxes (JSON-ready)
    sim.insight.leverage   how a change of one actor's weight or position on one issue moves agreement
    sim.insight.sobol      bootstrap intervals and the convergence check of Sobol' indices (for sim.sensitivity)
    sim.insight.figdata    the numbers each insight figure draws
    sim.insight.text       the plain-text reports the CLI prints
"""
