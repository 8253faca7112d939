"""Property predictors. Each returns per-draw arrays (n, K); :func:`summarize` reduces them."""

from __future__ import annotations

import numpy as np


def summarize(samples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reduce per-draw arrays (n, K) to ``name`` (mean) and ``name_std`` (one-sigma)."""
    out: dict[str, np.ndarray] = {}
    for name, values in samples.items():
        out[name] = values.mean(axis=1)
        out[name + "_std"] = values.std(axis=1)
    return out
