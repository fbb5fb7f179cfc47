"""Sweep specs: the grid expanded, every bad key named, and the papers' plans with their
cost. No training here."""

from __future__ import annotations

import pytest
from sweeps import TINY_SPEC, write_spec

from engram.cli import main
from engram.presets import PAPER_UPDATES
from engram.sweep import SpecError, load_spec, parse_spec, write_plan


def test_grid_expands_to_every_combination(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    assert spec.out == tmp_path / "tiny" and spec.executor == "local"
    assert len(spec.runs) == 8
    names = [r.name for r in spec.runs]
    assert len(set(names)) == 8
    assert "MortarMayhem-Grid-v0__gru__base__256__1" in names
    for r in spec.runs:
        c = r.config
        assert (c.env, c.agent, c.seed, c.total_steps) == (r.env, r.agent, r.seed, 256)
        assert c.run_dir == str(tmp_path / "tiny" / "runs") and c.run_name == r.name
        assert c.num_envs == 4 and c.memory_hidden == 8
        dktd = ("room_size=3", "episode_length=4", "trial_length=12")
        assert c.env_options == (dktd if r.env == "DarkKeyToDoor-v0" else ())


def test_variants_and_the_paper_preset():
    spec = parse_spec(
        {
            "grid": {"env": ["MysteryPath-v0", "MortarMayhem-v0"], "agent": "trxl"},
            "base": {"preset": "paper"},
            "variant": [{"name": "base"}, {"name": "rec", "obs_reconstruction": 0.1}],
            "resources": {"num_cpus": 4, "num_gpus": 1},
        }
    )
    assert len(spec.runs) == 4 and (spec.num_cpus, spec.num_gpus) == (4.0, 1.0)
    by = {(r.env, r.variant): r.config for r in spec.runs}
    assert by["MysteryPath-v0", "rec"].obs_reconstruction == 0.1
    assert by["MysteryPath-v0", "base"].obs_reconstruction == 0.0
    # the paper's budget and environment options come with the preset
    assert by["MortarMayhem-v0", "base"].total_steps == PAPER_UPDATES["MortarMayhem-v0"] * 16384
    assert "show_goal=False" in by["MysteryPath-v0", "base"].env_options


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"grid": {"env": "TMaze-v0", "agent": "gru"}, "exeutor": "ray"}, ["exeutor", "allowed"]),
        ({"grid": {"env": "TMaze-v0", "agent": "gru"}, "executor": "slurm"}, ["slurm", "local"]),
        ({"grid": {"env": "TMaze-v0"}}, ["grid.agent", "missing"]),
        ({"grid": {"env": "TMaze-v0", "agent": "gru", "seed": ["0"]}}, ["grid.seed", "'0'", "int"]),
        ({"grid": {"env": "TMaze-v0", "agent": "gru", "seed": []}}, ["grid.seed", "empty"]),
        ({"grid": {"env": "TMaze-v0", "agent": "gru", "seeds": [0]}}, ["seeds", "allowed"]),
        (
            {"grid": {"env": "TMaze-v0", "agent": "gru"}, "base": {"num_env": 4}},
            ["base.num_env", "unknown option", "4"],
        ),
        (
            {"grid": {"env": "TMaze-v0", "agent": "gru"}, "base": {"run_dir": "x"}},
            ["base.run_dir", "set by the sweep"],
        ),
        (
            {"grid": {"env": "TMaze-v0", "agent": "gru"}, "base": {"num_envs": 0}},
            ["TMaze-v0__gru__base", "num_envs", "0"],
        ),
        ({"grid": {"env": "NoSuchEnv-v0", "agent": "gru"}}, ["NoSuchEnv-v0"]),
        ({"grid": {"env": "TMaze-v0", "agent": "lstmm"}}, ["lstmm"]),
        (
            {"grid": {"env": "TMaze-v0", "agent": "gru"}, "base": {"preset": "paper"}},
            ["base.preset", "TMaze-v0"],
        ),
        (
            {"grid": {"env": "TMaze-v0", "agent": "gru"}, "per_env": {"MysteryPath-v0": {}}},
            ["per_env.MysteryPath-v0", "not an env of the grid"],
        ),
        (
            {"grid": {"env": "TMaze-v0", "agent": "gru"}, "resources": {"num_gpus": -1}},
            ["resources.num_gpus", "-1", ">= 0"],
        ),
        (
            {"grid": {"env": "TMaze-v0", "agent": "gru"}, "variant": [{"name": "a__b"}]},
            ["variant[0].name", "a__b"],
        ),
    ],
)
def test_bad_specs_name_the_key_and_value(raw, words):
    with pytest.raises(SpecError) as e:
        parse_spec(raw)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_bad_files(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(write_spec(tmp_path, "[grid\n"))
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "tiny.yaml"
    import tomllib

    path.write_text(yaml.safe_dump(tomllib.loads(TINY_SPEC)))
    assert [r.name for r in load_spec(path).runs] == [
        r.name for r in load_spec(write_spec(tmp_path)).runs
    ]


def test_memory_gym_plan_and_its_cost(tmp_path):
    files, lines = write_plan("memory-gym", tmp_path)
    runs = {f.name: load_spec(f).runs for f in files}
    assert {k: len(v) for k, v in runs.items()} == {
        "memory-gym-grid.toml": 3 * 3 * 5,
        "memory-gym-finite.toml": 3 * 2 * 2 * 5,
        "memory-gym-endless.toml": 3 * 2 * 5,
    }
    # 15 GRU runs of the grid tasks: 163.84 M steps each at the measured 310 steps/s
    grid_gru = 15 * 10_000 * 16_384 / 310 / 3600
    assert any(
        "memory-gym-grid.toml" in x and " gru " in x and f"{grid_gru:,.1f} h" in x for x in lines
    )
    total = sum(
        r.total_steps / {"gru": 310, "trxl": 231, "none": 435}[r.agent]
        for v in runs.values()
        for r in v
    )
    assert f"total: {total / 3600:,.1f} device hours" in lines[-1]


def test_memo_plan_from_the_command_line(tmp_path, capsys):
    # a measured speed given on the command line replaces the built-in one (6,000 for memo)
    main(["sweep", "--plan", "memo", "--plan-dir", str(tmp_path), "--sps", "memo=3000"])
    out = capsys.readouterr().out
    memo_hours = 5 * 409_600 / 3000 / 3600
    assert any(
        " memo " in x and f"3,000 steps/s: {memo_hours:>10,.1f} h" in x for x in out.splitlines()
    )
    assert any(" rmt " in x and "6,000 steps/s" in x for x in out.splitlines())
    spec = load_spec(tmp_path / "memo-dktd.toml")
    assert sorted({r.agent for r in spec.runs}) == ["fct", "memo", "rmt"] and len(spec.runs) == 15
    assert spec.runs[0].config.segment_length == 16 and "device hours" in out
    with pytest.raises(SystemExit):
        main(["sweep", "--plan", "memo", "--plan-dir", str(tmp_path), "--sps", "memo"])
    assert "AGENT=STEPS_PER_SECOND" in capsys.readouterr().err
