"""Running sweeps: the tiny grid trained by the local executor and by Ray on a local Ray
instance (the same numbers), a stopped sweep resumed, a failed run kept apart."""

from __future__ import annotations

import json
import shutil

import jax
import pytest
from rich.console import Console
from sweeps import write_spec

import engram.run
from engram.sweep import load_spec, run_one, run_state, run_sweep

QUIET = Console(quiet=True)


def _results(sweep_dir):
    return {
        p.parent.name: json.loads(p.read_text())["mean_return"]
        for p in sorted((sweep_dir / "runs").glob("*/eval.json"))
    }


def test_local_sweep_trains_every_run(tiny_sweep):
    runs = sorted(p.name for p in (tiny_sweep / "runs").iterdir())
    assert len(runs) == 8
    status = json.loads((tiny_sweep / "status.json").read_text())
    assert sorted(status) == runs and all(s["state"] == "done" for s in status.values())
    for name in runs:
        folder = tiny_sweep / "runs" / name
        assert run_state(folder) == "done"
        config = json.loads((folder / "config.json").read_text())
        env, agent, _, steps, seed = name.split("__")
        assert (config["env"], config["agent"], config["seed"]) == (env, agent, int(seed))
        assert json.loads((folder / "eval.json").read_text())["train_steps"] == int(steps)
        prov = json.loads((folder / "provenance.json").read_text())
        assert prov["libraries"]["jax"] == jax.__version__
        assert list(folder.glob("events.out.tfevents*"))


def test_finished_runs_are_skipped(tiny_sweep, monkeypatch):
    def no_training(config, console=None):
        raise AssertionError(f"trained {config.run_name} again")

    monkeypatch.setattr(engram.run, "train", no_training)
    before = _results(tiny_sweep)
    spec = load_spec(tiny_sweep.parent / "tiny.toml")
    progress = run_sweep(spec, console=QUIET)
    assert not progress.errors and progress.counts()["done"] == 8
    assert _results(tiny_sweep) == before


def test_a_killed_run_resumes_from_its_checkpoint(tiny_sweep, tmp_path):
    spec = load_spec(write_spec(tmp_path))
    run = spec.runs[0]
    done = tiny_sweep / "runs" / run.name
    copy = spec.runs_dir / run.name
    shutil.copytree(done, copy)
    (copy / "eval.json").unlink()  # killed after its last checkpoint, before the evaluation
    assert run_state(copy) == "resumable"
    result = run_one(run)
    assert result["resumed"] and run_state(copy) == "done"
    # the same parameters on the same levels: the same evaluation
    assert result["mean_return"] == json.loads((done / "eval.json").read_text())["mean_return"]


def test_a_failed_run_does_not_stop_the_others(tmp_path, monkeypatch):
    spec = load_spec(write_spec(tmp_path, **{"seed = [0, 1]": "seed = [0]"}))
    spec.runs = spec.runs[:2]

    def fake_train(config, console=None):
        if config.agent == "gru":
            raise ValueError("planted failure")
        folder = spec.runs_dir / config.run_name
        (folder / "eval.json").write_text(json.dumps({"mean_return": 0.5}))
        return {"mean_return": 0.5, "run_dir": str(folder)}

    monkeypatch.setattr(engram.run, "train", fake_train)
    progress = run_sweep(spec, console=QUIET)
    gru, none = spec.runs[0].name, spec.runs[1].name
    assert progress.states == {gru: "failed", none: "done"}
    assert "planted failure" in progress.errors[gru]
    assert "planted failure" in (spec.runs_dir / gru / "train.log").read_text()
    status = json.loads((spec.out / "status.json").read_text())
    assert status[gru]["state"] == "failed" and status[none]["mean_return"] == 0.5


def test_ray_executor_on_a_local_ray_instance(tiny_sweep, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    # Ray's workers are new processes: hand them a copy of this session's compilation
    # cache. Not the cache itself: Ray ends its workers at shutdown, and one ended while
    # writing an entry (jax 0.10 writes in place) left a truncated file whose later read
    # crashed this test worker in XLA's deserialiser (tests/run/test_faults.py, twice).
    cache = jax.config.jax_compilation_cache_dir
    if cache:
        own = tmp_path / "jax-cache"
        shutil.copytree(cache, own)
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(own))
        monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    # The trial task's half of the tiny grid (2 agents x 2 seeds, the cheap compilations):
    # the whole grid on Ray takes minutes more on a loaded 2-core machine.
    ray_grid = {
        'out = "tiny"': 'out = "tiny-ray"\nexecutor = "ray"',
        'env = ["MortarMayhem-Grid-v0", "DarkKeyToDoor-v0"]': 'env = ["DarkKeyToDoor-v0"]',
    }
    spec = load_spec(write_spec(tmp_path, **ray_grid))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        progress = run_sweep(spec, console=QUIET)
    finally:
        ray.shutdown()
    assert not progress.errors, progress.errors
    assert progress.counts()["done"] == 4
    # each run trained in a Ray worker gives what it gave in this process
    local = _results(tiny_sweep)
    assert _results(spec.out) == {k: v for k, v in local.items() if "DarkKeyToDoor" in k}
