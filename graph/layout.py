"""Node positions for the pictures of a ring (the explorer's graph and the report's SVG)."""

from __future__ import annotations

import numpy as np

__all__ = ["spring_layout"]


def spring_layout(
    n: int, source: np.ndarray, target: np.ndarray, *, iterations: int = 50, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Fruchterman-Reingold positions for ``n`` nodes, deterministic for a seed.

    Vectorised over all node pairs (fine for the few hundred nodes a picture
    holds), with a weak pull to the centre so that separate components stay
    in view.

    References
    ----------
    T. Fruchterman and E. Reingold, "Graph drawing by force-directed placement",
    Software: Practice and Experience 21(11), 1991.
    """
    rng = np.random.default_rng(seed)
    x = rng.random(n, dtype=np.float32)
    y = rng.random(n, dtype=np.float32)
    if n < 2:
        return x, y
    k = np.float32(1 / np.sqrt(n))
    temperature = 0.1
    cooling = temperature / (iterations + 1)
    for _ in range(iterations):
        dx = x[:, None] - x[None, :]
        dy = y[:, None] - y[None, :]
        w = (k * k) / np.maximum(dx * dx + dy * dy, np.float32(1e-4))
        fx = (dx * w).sum(1)
        fy = (dy * w).sum(1)
        ex, ey = x[source] - x[target], y[source] - y[target]
        pull = np.sqrt(ex * ex + ey * ey) / k
        fx -= (np.bincount(source, ex * pull, n) - np.bincount(target, ex * pull, n)).astype(np.float32)
        fy -= (np.bincount(source, ey * pull, n) - np.bincount(target, ey * pull, n)).astype(np.float32)
        fx -= (x - x.mean()) * (0.05 / k)
        fy -= (y - y.mean()) * (0.05 / k)
        length = np.maximum(np.sqrt(fx * fx + fy * fy), np.float32(1e-9))
        step = np.minimum(length, temperature) / length
        x += fx * step
        y += fy * step
        temperature -= cooling
    return x, y
