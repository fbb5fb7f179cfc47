"""The numbers of a report: learning curves averaged over seeds with bootstrap bands, the
final-performance table with rliable's stratified-bootstrap intervals, normalised scores
for performance profiles and the probability of improvement, and the papers' published
numbers where the setting matches."""

from __future__ import annotations

import numpy as np

from engram.presets import MEMORY_GYM_CITATION, PAPER_ENV_OPTIONS, paper_result
from engram.report.data import Curve, Run

RETURN = "charts/episodic_return"


def bootstrap_band(
    values: np.ndarray, reps: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and the 95% percentile-bootstrap interval of that mean, per point.

    Args:
        values: ``(seeds, points)``; NaN where a seed has no value.

    Returns:
        ``(mean, low, high)``, each ``(points,)``; with one seed the band is the value itself.
    """
    values = np.asarray(values, float)
    with _quiet():
        mean = np.nanmean(values, axis=0)
    if values.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.shape[0], size=(reps, values.shape[0]))
    with np.errstate(invalid="ignore"), _quiet():
        means = np.nanmean(values[idx], axis=1)  # (reps, points)
        low, high = np.nanpercentile(means, [2.5, 97.5], axis=0)
    return mean, low, high


class _quiet:
    """Silence numpy's all-NaN slice warnings inside a block, and arch's deprecation of the
    RandomState that rliable hands it (results are unchanged)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def mean_curve(
    curves: list[Curve], x: str = "steps", points: int = 100
) -> dict[str, np.ndarray] | None:
    """Seeds' curves on a common x grid (linear interpolation inside each seed's range,
    NaN outside), with :func:`bootstrap_band`.

    Args:
        curves: one per seed.
        x: ``"steps"`` (environment steps) or ``"wall"`` (seconds).
        points: the most points of the grid (the union of the seeds' points when fewer).

    Returns:
        ``{"x", "mean", "low", "high", "seeds"}``, or None when no curve has a point.
    """
    curves = [c for c in curves if len(c.values)]
    if not curves:
        return None
    xs = [getattr(c, x) for c in curves]
    grid = np.unique(np.concatenate(xs))  # every seed's own points ...
    if len(grid) > points:  # ... or, when there are many, evenly spaced ones
        grid = np.linspace(grid[0], grid[-1], points)
    rows = []
    for c, cx in zip(curves, xs, strict=True):
        row = np.interp(grid, cx, c.values)
        row[(grid < cx[0]) | (grid > cx[-1])] = np.nan
        rows.append(row)
    mean, low, high = bootstrap_band(np.stack(rows))
    return dict(x=grid, mean=mean, low=low, high=high, seeds=len(curves))


def interval(matrix: np.ndarray, reps: int = 2000) -> dict:
    """IQM and mean of a score matrix with rliable's 95% stratified-bootstrap intervals.

    Args:
        matrix: ``(samples, strata)``, e.g. episodes x seeds (episodes resampled within
            each seed) or runs x tasks.

    Returns:
        ``{"iqm", "iqm_ci": (lo, hi), "mean", "mean_ci": (lo, hi)}`` (floats).
    """
    from rliable import library as rly
    from rliable import metrics

    def both(x):
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

    with _quiet():
        point, ci = rly.get_interval_estimates(
            {"x": np.asarray(matrix, float)},
            both,
            reps=reps,
            random_state=np.random.RandomState(0),
        )
    (iqm, mean), (lo, hi) = point["x"], ci["x"]
    return dict(iqm=iqm, iqm_ci=(lo[0], hi[0]), mean=mean, mean_ci=(lo[1], hi[1]))


def _episodes(runs: list[Run], key: str) -> np.ndarray | None:
    """``(episodes, seeds)`` of a per-episode list of the seeds' evaluations (the shortest
    seed's count, so the matrix is rectangular), or None."""
    cols = [r.eval[key] for r in runs if r.eval and r.eval.get(key) is not None]
    if not cols:
        return None
    n = min(len(c) for c in cols)
    return np.asarray([c[:n] for c in cols], float).T


def paper_row(run: Run) -> dict | None:
    """The Memory Gym paper's published result for the setting of ``run`` (same id, agent,
    observation reconstruction or not, and the paper's environment options), or None.

    Returns:
        ``{"metric", "mean", "std", "steps", "citation"}``.
    """
    needed = set(PAPER_ENV_OPTIONS.get(run.env, ()))
    if not needed <= set(run.config.get("env_options", ())):
        return None
    variant = "rec" if run.config.get("obs_reconstruction", 0) else "base"
    found = paper_result(run.env, run.config["agent"], variant)
    if found is None:
        return None
    metric, mean, std, steps = found
    return dict(metric=metric, mean=mean, std=std, steps=steps, citation=MEMORY_GYM_CITATION)


def final_table(groups: dict[str, dict[str, list[Run]]]) -> list[dict]:
    """One row per (env, agent): seeds, episodes, return IQM and mean with stratified-
    bootstrap CIs (episodes resampled within seeds), success rate, steps trained, random
    policy's return, and the paper's number where the setting matches."""
    rows = []
    for env, agents in groups.items():
        for agent, runs in agents.items():
            finished = [r for r in runs if r.eval]
            row = dict(env=env, agent=agent, seeds=len(finished), runs=len(runs))
            returns = _episodes(finished, "returns")
            if returns is not None:
                row.update(episodes=returns.size, **interval(returns))
            success = _episodes(finished, "success")
            row["success_rate"] = None if success is None else float(success.mean())
            steps = [r.summary.get("train_steps") for r in finished if r.summary]
            row["steps"] = max(steps) if steps and all(s is not None for s in steps) else None
            randoms = [r.summary.get("random_policy_mean_return") for r in finished if r.summary]
            randoms = [x for x in randoms if x is not None]
            row["random_return"] = float(np.mean(randoms)) if randoms else None
            row["paper"] = paper_row(runs[0])
            rows.append(row)
    return rows


def normalised_scores(groups: dict[str, dict[str, list[Run]]]) -> tuple[dict, list[str]]:
    """Per-run final scores normalised per environment, for profiles and improvement: the
    random policy's mean return is 0 and the best seed of any agent in the report is 1 (a
    score can exceed neither bound by much; identical bounds give 0).

    Returns:
        ``({agent: (seeds, envs) array}, envs)``: only agents finished on every env, and the
        seeds each agent has on all of them (the fewest).
    """
    envs = list(groups)
    agents = [a for a in dict.fromkeys(a for g in groups.values() for a in g)]
    agents = [a for a in agents if all(any(r.eval for r in groups[e].get(a, [])) for e in envs)]
    out = {}
    for a in agents:
        columns = []
        for e in envs:
            finished = [r for r in groups[e][a] if r.eval]
            columns.append([r.eval["mean_return"] for r in finished])
        n = min(len(c) for c in columns)
        out[a] = np.asarray([c[:n] for c in columns], float).T
    for j, e in enumerate(envs):
        randoms = [
            r.summary["random_policy_mean_return"]
            for runs in groups[e].values()
            for r in runs
            if r.summary and r.summary.get("random_policy_mean_return") is not None
        ]
        low = float(np.mean(randoms)) if randoms else 0.0
        high = max((float(out[a][:, j].max()) for a in out), default=low)
        for a in out:
            out[a][:, j] = (out[a][:, j] - low) / (high - low) if high > low else 0.0
    return out, envs


def performance_profiles(scores: dict, taus: np.ndarray) -> tuple[dict, dict]:
    """rliable's score distributions (share of runs scoring above each tau) with their 95%
    stratified-bootstrap bands: ``({agent: (taus,)}, {agent: (2, taus)})``."""
    from rliable import library as rly

    with _quiet():
        return rly.create_performance_profile(scores, taus, reps=500)


def improvement(scores: dict) -> list[dict]:
    """rliable's probability of improvement P(X > Y) for each ordered pair of agents, with
    its 95% stratified-bootstrap interval: ``[{"x", "y", "p", "ci": (lo, hi)}]``."""
    from rliable import library as rly
    from rliable import metrics

    agents = list(scores)
    out = []
    for i, x in enumerate(agents):
        for y in agents[i + 1 :]:
            with _quiet():
                point, ci = rly.get_interval_estimates(
                    {"pair": (scores[x], scores[y])},
                    metrics.probability_of_improvement,
                    reps=500,
                    random_state=np.random.RandomState(0),
                )
            out.append(dict(x=x, y=y, p=float(point["pair"]), ci=tuple(ci["pair"].ravel())))
    return out
