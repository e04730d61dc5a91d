"""Detectors: one module per method, each with ``fit(graph) -> self`` and fitted attributes.

Every detector follows the same contract (see :mod:`graph.detect.base`):
the constructor only stores parameters; ``fit`` takes the projection first
and sets ``scores_`` (a ``pd.Series`` indexed by buyer id, 0..1, higher =
more suspicious) and ``candidates_`` (a list of :class:`Candidate`).
"""
