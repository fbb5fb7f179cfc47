"""Aggregating evaluations: seeds pooled into one summary, and rliable's interval
estimates (IQM and mean with stratified-bootstrap 95% confidence intervals)."""

from __future__ import annotations

import warnings

import numpy as np

from engram.evaluation.protocol import _curve


def merge_seeds(results: list[dict]) -> dict:
    """One evaluation summary from the per-seed ones: episodes pooled (seed-major)."""
    if len(results) == 1:
        return dict(results[0])
    pooled = {
        k: [x for r in results for x in r[k]] for k in ("level", "returns", "lengths", "done")
    }
    returns = np.asarray(pooled["returns"])
    curves = [r["per_episode_index"] for r in results if "per_episode_index" in r]
    if curves:
        width = max(len(cv["count"]) for cv in curves)

        def pad(v):
            return np.pad(np.asarray(v, float), (0, width - len(v)))

        sums = {"count": sum(pad(cv["count"]) for cv in curves)}
        for k in curves[0]["sums"]:
            sums[k] = sum(pad(cv["sums"][k]) for cv in curves)
        pooled["per_episode_index"] = _curve(sums)
        pooled["trial_length"] = results[0]["trial_length"]
    has_success = results[0]["success"] is not None
    success = [x for r in results for x in r["success"]] if has_success else None
    first = results[0]
    return {
        **{k: first[k] for k in ("levels", "repetitions", "seed", "policy", "deterministic")},
        "episodes": len(returns),
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "mean_length": float(np.mean(pooled["lengths"])),
        "success_rate": float(np.mean(success)) if has_success else None,
        **pooled,
        "success": success,
    }


def interval_estimates(values, reps: int = 2000, seed: int = 0) -> dict:
    """IQM and mean of per-episode ``values`` with 95% stratified-bootstrap confidence
    intervals, computed by rliable.

    Args:
        values: 1-d sequence of per-episode scores (returns or 0/1 successes).
        reps: bootstrap resamples.
        seed: seed of the bootstrap (results are reproducible).

    Returns:
        ``{"iqm": x, "iqm_ci": [lo, hi], "mean": x, "mean_ci": [lo, hi]}`` as floats.
    """
    from rliable import library as rly
    from rliable import metrics

    scores = np.asarray(values, float).reshape(-1, 1)  # rliable: (runs, tasks)
    with warnings.catch_warnings():
        # rliable hands arch a RandomState, which arch deprecates; results are unchanged.
        warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
        point, ci = rly.get_interval_estimates(
            {"policy": scores},
            lambda x: np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)]),
            reps=reps,
            random_state=np.random.RandomState(seed),
        )
    (iqm, mean), (lo, hi) = point["policy"], ci["policy"]
    return {
        "iqm": float(iqm),
        "iqm_ci": [float(lo[0]), float(hi[0])],
        "mean": float(mean),
        "mean_ci": [float(lo[1]), float(hi[1])],
    }
