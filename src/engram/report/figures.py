"""The figures of a report, drawn with matplotlib (Agg) and returned as inline SVG text."""

from __future__ import annotations

import io

import numpy as np

from engram.report.analysis import RETURN, mean_curve
from engram.report.data import Run


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.grid": True})
    return plt


def to_svg(fig) -> str:
    """The figure as an ``<svg>`` element (XML prolog and DOCTYPE dropped, size scaled to the
    page width), and the figure closed."""
    plt = _pyplot()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    # drawn at its own size, shrunk (never grown) to the page's width
    return svg.replace("<svg", '<svg style="max-width:100%;height:auto"', 1)


def _subplots(n: int, width: float = 4.2, height: float = 3.0):
    plt = _pyplot()
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def learning_curves(groups: dict[str, dict[str, list[Run]]], x: str, tag: str = RETURN):
    """One panel per environment: ``tag`` against environment steps (``x="steps"``) or wall
    time (``x="wall"``), one line per agent, the mean over seeds with its 95% bootstrap band.

    Returns:
        the SVG text, or None when no run logged ``tag``.
    """
    panels = []
    for env, agents in groups.items():
        lines = {}
        for agent, runs in agents.items():
            curve = mean_curve([r.curves[tag] for r in runs if tag in r.curves], x=x)
            if curve is not None:
                lines[agent] = curve
        if lines:
            panels.append((env, lines))
    if not panels:
        return None
    fig, axes = _subplots(len(panels))
    for ax, (env, lines) in zip(axes, panels, strict=False):
        for agent, c in lines.items():
            marker = "." if len(c["x"]) <= 30 else None  # isolated points stay visible
            (line,) = ax.plot(
                c["x"], c["mean"], marker=marker, label=f"{agent} ({c['seeds']} seeds)"
            )
            ax.fill_between(c["x"], c["low"], c["high"], color=line.get_color(), alpha=0.2)
        ax.set_title(env)
        ax.set_xlabel("environment steps" if x == "steps" else "wall time (s)")
        ax.set_ylabel(tag.split("/")[-1].replace("_", " "))
        ax.legend(fontsize=7)
    fig.tight_layout()
    return to_svg(fig)


def profiles_figure(taus: np.ndarray, profiles: dict, bands: dict):
    """rliable's performance profiles: the share of runs with a normalised score above tau,
    per agent, with the 95% stratified-bootstrap band."""
    fig, (ax,) = _subplots(1, width=5.0, height=3.2)
    for agent, p in profiles.items():
        (line,) = ax.plot(taus, p, label=agent)
        ax.fill_between(taus, bands[agent][0], bands[agent][1], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("normalised score tau (random 0, best run 1)")
    ax.set_ylabel("fraction of runs with score > tau")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return to_svg(fig)


def improvement_figure(pairs: list[dict]):
    """Probability of improvement P(X > Y) per pair of agents, with 95% intervals."""
    fig, (ax,) = _subplots(1, width=5.0, height=0.5 + 0.4 * len(pairs))
    ys = np.arange(len(pairs))
    p = np.array([q["p"] for q in pairs])
    lo = np.array([q["ci"][0] for q in pairs])
    hi = np.array([q["ci"][1] for q in pairs])
    ax.errorbar(p, ys, xerr=[p - lo, hi - p], fmt="o", capsize=3)
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_yticks(ys, [f"P({q['x']} > {q['y']})" for q in pairs])
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability of improvement")
    fig.tight_layout()
    return to_svg(fig)


def in_context_figure(groups: dict[str, dict[str, list[Run]]]):
    """In-context curves on trial tasks: mean return by episode index within a trial, one
    panel per (env, trial scale, streaming window), one line per agent (mean over seeds of
    their final evaluation and any ``engram eval`` files), the range of seeds shaded.

    Returns:
        the SVG text, or None when no run has a trial evaluation.
    """
    panels: dict[tuple, dict[str, list[list[float]]]] = {}
    for env, agents in groups.items():
        for agent, runs in agents.items():
            for r in runs:
                evals = ([dict(r.eval, trial_scale=1)] if r.eval else []) + r.evaluations
                for ev in evals:
                    curve = ev.get("per_episode_index")
                    if not curve or ev.get("policy", "agent") != "agent":
                        continue
                    key = (env, ev.get("trial_scale", 1), ev.get("stream_window"))
                    values = [np.nan if v is None else v for v in curve["mean_return"]]
                    panels.setdefault(key, {}).setdefault(agent, []).append(values)
    if not panels:
        return None
    fig, axes = _subplots(len(panels))
    ordered = sorted(panels.items(), key=str)
    for ax, ((env, scale, window), lines) in zip(axes, ordered, strict=False):
        for agent, seeds in lines.items():
            n = max(len(s) for s in seeds)
            m = np.array([s + [np.nan] * (n - len(s)) for s in seeds], float)
            x = np.arange(1, n + 1)
            with np.errstate(invalid="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean, lo, hi = np.nanmean(m, 0), np.nanmin(m, 0), np.nanmax(m, 0)
            (line,) = ax.plot(x, mean, marker="o", ms=3, label=f"{agent} ({len(seeds)})")
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2)
        title = f"{env}, trials x{scale}" + (f", streaming {window}" if window else "")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("episode index within the trial")
        ax.set_ylabel("mean return")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return to_svg(fig)
