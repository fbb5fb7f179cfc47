"""The report page: one self-contained HTML file (inline SVG figures, inline CSS and a few
lines of script that check, on load, that every figure was drawn; nothing is fetched)."""

from __future__ import annotations

import datetime
import json
from html import escape

import numpy as np

from engram.presets import MEMORY_GYM_CITATION
from engram.provenance import provenance
from engram.report import analysis, figures
from engram.report.data import Run, groups

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}
td:first-child,th:first-child,td.l{text-align:left}
figure{margin:0.5em 0}figcaption,.note{font-size:0.8em;color:#555}
pre{font-size:0.75em;background:#f6f6f6;padding:0.5em;overflow-x:auto}
details{margin:0.2em 0}
"""

# Runs on load: every figure must hold an SVG with a drawing; the result is written to
# <body data-checked> and any failure to the console (the browser test reads both).
_SCRIPT = """
window.addEventListener("load", function () {
  var figs = document.querySelectorAll("figure[data-figure]"), bad = [];
  figs.forEach(function (f) {
    // drawn: the SVG has a size on the page and its drawing (matplotlib's figure group,
    // lines and text) covers more than a speck
    var svg = f.querySelector("svg"), box = svg && svg.getBoundingClientRect();
    var drawing = svg && svg.querySelector("g"), extent = drawing && drawing.getBBox();
    if (!svg || box.width < 10 || box.height < 10 || !extent || extent.width < 10 ||
        extent.height < 10 || svg.querySelectorAll("path").length < 3) bad.push(f.dataset.figure);
  });
  var tables = document.querySelectorAll("table[data-table]").length;
  if (bad.length) console.error("engram report: figures not drawn: " + bad.join(", "));
  document.body.dataset.checked =
    bad.length ? "failed" : figs.length + " figures, " + tables + " tables";
});
"""


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    return f"{v:.{digits}f}"


def _ci(point, ci) -> str:
    return f"{_fmt(point)} [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _table(name: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    table = f'<table data-table="{name}"><tr>{head}</tr>{body}</table>'
    return f'<div style="overflow-x:auto">{table}</div>'


def _figure(name: str, svg: str | None, caption: str) -> str:
    if svg is None:
        return f'<p class="note">No data for this figure ({escape(caption)}).</p>'
    return f'<figure data-figure="{name}">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def _no_curve_note(g: dict[str, dict[str, list[Run]]]) -> str:
    missing = [
        env
        for env, agents in g.items()
        if not any(analysis.RETURN in r.curves for rs in agents.values() for r in rs)
    ]
    if not missing:
        return ""
    return (
        f"<p class='note'>No episode ended during training on {escape(', '.join(missing))}: "
        "no learning curve there.</p>"
    )


def _final_section(rows: list[dict]) -> str:
    header = ["env", "agent", "seeds", "episodes", "return IQM [95% CI]", "return mean [95% CI]"]
    header += ["success rate", "steps", "random return", "paper (Memory Gym)"]
    out = []
    for r in rows:
        p = r["paper"]
        paper = "–"
        if p:
            std = f" ± {p['std']:.3f}" if p["std"] is not None else ""
            metric = {"success_rate": "success", "mean_return": "return"}[p["metric"]]
            paper = f"{metric} {p['mean']:.3f}{std} ({p['steps'] / 1e6:,.1f} M steps)"
        out.append(
            [
                escape(r["env"]),
                escape(r["agent"]),
                f"{r['seeds']}/{r['runs']}",
                _fmt(r.get("episodes")),
                _ci(r["iqm"], r["iqm_ci"]) if "iqm" in r else "–",
                _ci(r["mean"], r["mean_ci"]) if "mean" in r else "–",
                _fmt(r["success_rate"]),
                _fmt(r["steps"]),
                _fmt(r["random_return"]),
                escape(paper),
            ]
        )
    return _table("final", header, out)


def _paper_section(rows: list[dict]) -> str:
    matched = [r for r in rows if r["paper"]]
    if not matched:
        return (
            '<p class="note">No run here matches a setting of the Memory Gym paper (same id, '
            "agent, observation reconstruction and environment options; "
            "<code>engram sweep --plan memory-gym</code> writes those runs).</p>"
        )
    header = ["env", "agent", "metric", "engram", "engram steps", "paper", "paper steps"]
    out = []
    for r in matched:
        p = r["paper"]
        ours = r["success_rate"] if p["metric"] == "success_rate" else r.get("mean")
        std = f" ± {p['std']:.3f}" if p["std"] is not None else ""
        out.append(
            [
                escape(r["env"]),
                escape(r["agent"]),
                p["metric"].replace("_", " "),
                _fmt(ours),
                _fmt(r["steps"]),
                f"{p['mean']:.3f}{std}",
                f"{p['steps']:,}",
            ]
        )
    note = (
        f'<p class="note">Paper: {escape(MEMORY_GYM_CITATION)}. engram\'s number is the '
        "mean over its seeds' evaluation episodes; compare only at equal steps.</p>"
    )
    return _table("paper", header, out) + note


def _compute_section(runs: list[Run]) -> str:
    by_agent: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        by_agent.setdefault((r.env, r.agent), []).append(r)
    header = ["env", "agent", "memory state / env (bytes)", "peak device memory (GiB)"]
    header += ["train s (mean)", "steps/s (mean)"]
    rows = []
    for (env, agent), rs in by_agent.items():
        s = [r.summary for r in rs if r.summary]
        mem = [x["memory_state_bytes_per_env"] for x in s]
        mem = [m for m in mem if m is not None]
        peak = [x["peak_device_memory_bytes"] for x in s if x.get("peak_device_memory_bytes")]
        secs = [x["train_seconds"] for x in s if x.get("train_seconds") is not None]
        sps = [r.curves["charts/SPS"].values[-1] for r in rs if "charts/SPS" in r.curves]
        rows.append(
            [
                escape(env),
                escape(agent),
                _fmt(int(np.mean(mem))) if mem else "–",
                _fmt(np.mean(peak) / 2**30, 2) if peak else "–",
                _fmt(np.mean(secs), 1) if secs else "–",
                _fmt(np.mean(sps), 0) if sps else "–",
            ]
        )
    return _table("compute", header, rows)


def _runs_section(runs: list[Run]) -> str:
    header = ["run", "env", "agent", "seed", "steps", "wall s", "steps/s", "engram", "commit"]
    rows, details = [], []
    for r in runs:
        s, p = r.summary or {}, r.provenance or {}
        secs, steps = s.get("train_seconds"), s.get("train_steps")
        rows.append(
            [
                f'<span class="l">{escape(r.name)}</span>',
                escape(r.env),
                escape(r.agent),
                str(r.seed),
                _fmt(steps),
                _fmt(secs, 1),
                _fmt(steps / secs, 0) if secs and steps else "–",
                escape(str(p.get("engram", "–"))),
                escape(str(p.get("commit", "–"))[:12]),
            ]
        )
        extra = {"provenance": p or "not recorded (run not started by engram sweep)"}
        details.append(
            f"<details><summary>{escape(r.name)}: config and provenance</summary><pre>"
            f"{escape(json.dumps({'config': r.config, **extra}, indent=1))}</pre></details>"
        )
    return _table("runs", header, rows) + "".join(details)


def _environment_section(runs: list[Run]) -> str:
    seen: dict[str, set[str]] = {}
    for r in runs:
        p = r.provenance or {}
        for k, v in (p.get("libraries") or {}).items():
            seen.setdefault(k, set()).add(str(v))
        for k, v in (p.get("hardware") or {}).items():
            seen.setdefault(k, set()).add(str(v))
        if p.get("python"):
            seen.setdefault("python", set()).add(p["python"])
    rows = [[escape(k), escape(", ".join(sorted(v)))] for k, v in seen.items()]
    if not rows:
        return '<p class="note">The runs recorded no provenance.</p>'
    return _table("environment", ["library / hardware", "values over the runs"], rows)


def render(runs: list[Run]) -> str:
    """The report of ``runs`` as one HTML document (a string)."""
    g = groups(runs)
    rows = analysis.final_table(g)
    scores, envs = analysis.normalised_scores(g)
    profile_svg = improvement_svg = None
    if scores:
        taus = np.linspace(-0.1, 1.1, 61)
        profiles, bands = analysis.performance_profiles(scores, taus)
        profile_svg = figures.profiles_figure(taus, profiles, bands)
    pairs = analysis.improvement(scores) if len(scores) > 1 else []
    if pairs:
        improvement_svg = figures.improvement_figure(pairs)
    me = provenance()
    made = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>engram report</title>",
        f"<style>{_CSS}</style><script>{_SCRIPT}</script></head><body>",
        "<h1>engram report</h1>",
        f"<p class='note'>{len(runs)} runs, {len(g)} environments, made {made} by engram "
        f"{escape(str(me['engram']))} (commit {escape(str(me['commit']))}).</p>",
        "<h2 id='curves'>Learning curves</h2>",
        _figure(
            "curves-steps",
            figures.learning_curves(g, "steps"),
            "episodic return against environment steps; mean over seeds, 95% bootstrap band",
        ),
        _figure(
            "curves-wall",
            figures.learning_curves(g, "wall"),
            "episodic return against wall time; mean over seeds, 95% bootstrap band",
        ),
        _no_curve_note(g),
        "<h2 id='final'>Final performance</h2>",
        "<p class='note'>Final policy on unseen levels (eval.json). IQM and mean of the "
        "per-episode return with rliable's 95% stratified-bootstrap intervals (episodes "
        "resampled within each seed).</p>",
        _final_section(rows),
        "<h2 id='paper'>Beside the papers</h2>",
        _paper_section(rows),
        "<h2 id='profiles'>Performance profiles and probability of improvement</h2>",
        f"<p class='note'>Each seed's final mean return, normalised per environment (random "
        f"policy 0, best seed in this report 1), over {len(envs)} environments; agents "
        "finished on all of them. rliable, 95% stratified-bootstrap intervals.</p>",
        _figure("profiles", profile_svg, "performance profiles"),
        _figure("improvement", improvement_svg, "probability of improvement"),
        "<h2 id='in-context'>In-context curves (trial tasks)</h2>",
        _figure(
            "in-context",
            figures.in_context_figure(g),
            "mean return by episode index within a trial; mean over seeds, range shaded",
        ),
        "<h2 id='compute'>Memory and compute</h2>",
        _compute_section(runs),
        "<h2 id='runs'>Runs</h2>",
        _runs_section(runs),
        "<h2 id='environment'>Libraries and hardware</h2>",
        _environment_section(runs),
        "</body></html>",
    ]
    return "\n".join(parts)
