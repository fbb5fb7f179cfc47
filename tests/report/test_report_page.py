"""engram report: the numbers it reads and computes, and the page of the tiny sweep."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pytest
from tensorboardX import SummaryWriter

from engram.cli import main
from engram.report import find_runs
from engram.report.analysis import bootstrap_band, mean_curve, paper_row
from engram.report.data import Curve, Run, read_events


class _Page(HTMLParser):
    """The figure and table names of a report, the text of each table's cells."""

    def __init__(self):
        super().__init__()
        self.figures, self.tables, self.external = [], {}, []
        self._table, self._cell = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure" and "data-figure" in a:
            self.figures.append(a["data-figure"])
        if tag == "table" and "data-table" in a:
            self._table = self.tables.setdefault(a["data-table"], [])
        if tag == "tr" and self._table is not None:
            self._table.append([])
        if tag == "td" and self._table is not None:
            self._cell = ""
        if tag in ("script", "img", "link", "iframe") and ("src" in a or "href" in a):
            self.external.append((tag, a))

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._table[-1].append(self._cell)
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def parse(path) -> _Page:
    page = _Page()
    page.feed(path.read_text())
    return page


def test_events_are_read_back(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    for step in (8, 16, 24):
        writer.add_scalar("charts/episodic_return", step / 10, step)
    writer.add_scalar("charts/SPS", 99.0, 24)
    writer.close()
    (path,) = tmp_path.glob("events.out.tfevents*")
    curves = read_events(path)
    c = curves["charts/episodic_return"]
    np.testing.assert_array_equal(c.steps, [8, 16, 24])
    np.testing.assert_allclose(c.values, [0.8, 1.6, 2.4], rtol=1e-6)
    assert np.all(np.diff(c.wall) >= 0) and c.wall[0] >= 0
    assert curves["charts/SPS"].values.tolist() == [99.0]
    # a run killed while writing leaves half a record (here the last, SPS): the rest is kept
    path.write_bytes(path.read_bytes()[:-7])
    cut = read_events(path)
    assert "charts/SPS" not in cut and cut["charts/episodic_return"].steps.tolist() == [8, 16, 24]


def test_mean_curve_and_its_band():
    a = Curve(np.array([0.0, 10, 20]), np.array([0.0, 1, 2]), np.array([1.0, 2, 3]))
    b = Curve(np.array([0.0, 10, 20]), np.array([0.0, 1, 2]), np.array([3.0, 4, 5]))
    c = mean_curve([a, b])
    np.testing.assert_allclose(c["mean"], [2, 3, 4])
    assert np.all(c["low"] >= 1 - 1e-9) and np.all(c["high"] <= 5 + 1e-9)
    assert np.all(c["high"] - c["low"] > 0) and c["seeds"] == 2
    same = bootstrap_band(np.array([[1.0, 2.0], [1.0, 2.0]]))
    np.testing.assert_allclose(same, [[1, 2]] * 3)
    # a seed that has not reached a point yet does not count there
    short = Curve(np.array([0.0, 10]), np.array([0.0, 1]), np.array([5.0, 5]))
    np.testing.assert_allclose(mean_curve([a, short])["mean"], [3, 3.5, 3])


def _run(env, agent, **config):
    config = {"env": env, "agent": agent, "env_options": [], **config}
    return Run(None, "r", config, 0, "base", None, None)


def test_the_papers_number_only_where_the_setting_matches():
    paper_mp = ["show_origin=False", "show_goal=False", "reward_path_progress=0.1"]
    row = paper_row(_run("MysteryPath-v0", "trxl", obs_reconstruction=0.1, env_options=paper_mp))
    assert (row["metric"], row["mean"], row["std"]) == ("success_rate", 0.973, 0.010)
    assert "arXiv:2309.17207" in row["citation"]
    assert paper_row(_run("MysteryPath-v0", "trxl", obs_reconstruction=0.1)) is None
    assert paper_row(_run("MortarMayhem-Grid-v0", "gru"))["mean"] == 1.0
    assert paper_row(_run("MortarMayhem-Grid-v0", "lstm")) is None
    assert paper_row(_run("TMaze-v0", "gru")) is None


def test_the_page_has_every_figure_and_table(report_page):
    page = parse(report_page)
    assert page.figures == ["curves-steps", "curves-wall", "profiles", "improvement", "in-context"]
    assert set(page.tables) == {"final", "paper", "compute", "runs", "environment"}
    assert page.external == []  # nothing to fetch
    assert len(page.tables["runs"]) == 1 + 8


def test_the_final_table_holds_the_runs_numbers(report_page, tiny_sweep):
    rows = {(r[0], r[1]): r for r in parse(report_page).tables["final"][1:]}
    assert len(rows) == 4
    for env in ("MortarMayhem-Grid-v0", "DarkKeyToDoor-v0"):
        for agent in ("gru", "none"):
            evals = [
                json.loads(p.read_text())
                for p in sorted((tiny_sweep / "runs").glob(f"{env}__{agent}__*/eval.json"))
            ]
            returns = [x for e in evals for x in e["returns"]]
            success = [x for e in evals for x in e["success"]]
            row = rows[env, agent]
            assert row[2] == "2/2" and row[3] == str(len(returns))
            assert row[5].split(" [")[0] == f"{np.mean(returns):.3f}"
            assert row[6] == f"{np.mean(success):.3f}"
            lo, hi = (float(x) for x in row[5].split(" [")[1].rstrip("]").split(", "))
            assert lo <= np.mean(returns) <= hi
    # the paper's number beside engram's where the setting matches (MM-Grid), not elsewhere
    assert rows["MortarMayhem-Grid-v0", "gru"][9] == "success 1.000 (163.8 M steps)"
    assert rows["MortarMayhem-Grid-v0", "none"][9].startswith("success 0.000")
    assert rows["DarkKeyToDoor-v0", "gru"][9] == "–"


def test_runs_carry_config_and_provenance(report_page, tiny_sweep):
    runs = find_runs([tiny_sweep])
    assert len(runs) == 8 and all(r.provenance and r.eval for r in runs)
    text = report_page.read_text()
    assert runs[0].provenance["commit"][:12] in text
    assert "Pleines" in text and "memory_hidden&quot;: 8" in text


def test_no_runs_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path), "--out", str(tmp_path / "r.html")])
    assert "no run folder" in capsys.readouterr().err
