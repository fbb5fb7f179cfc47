"""``engram train`` end to end on a real task with a tiny budget: run folder contents,
checkpoints, the NaN guard, configuration errors and the command line."""

from __future__ import annotations

import dataclasses
import importlib.machinery
import io
import json
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from configs import tiny_config
from rich.console import Console

import engram
from engram import cli
from engram.config import TrainConfig
from engram.ppo import Trainer
from engram.run import (
    NonFiniteLossError,
    load_checkpoint,
    save_checkpoint,
    train,
)
from engram.run import loop as train_module


def tiny(tmp_path, **kw) -> TrainConfig:
    """Two environments x 8 steps, a checkpoint after every update, the run in
    ``tmp_path/run``."""
    args = dict(num_steps=8, num_minibatches=2, total_steps=48, eval_levels=3)
    return tiny_config(tmp_path, **{**args, "checkpoint_every": 1, "run_name": "run", **kw})


def vector(tmp_path, **kw) -> TrainConfig:
    """:func:`tiny` on the T-maze (vector observations, an MLP encoder): the pipeline tests
    that do not need pixels compile several times faster than with the CNN."""
    kw = {"env": "TMaze-v0", "env_options": ("corridor_length=4",), **kw}
    return tiny(tmp_path, **kw)


def quiet() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200), out


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One tiny run shared by the tests that only read its results."""
    tmp = tmp_path_factory.mktemp("train")
    console, out = quiet()
    summary = train(tiny(tmp), console=console)
    return tmp / "run", summary, out.getvalue()


def test_run_folder_has_config_checkpoint_events_and_evaluation(finished):
    run, summary, printed = finished
    config = json.loads((run / "config.json").read_text())
    assert config["env"] == "MortarMayhem-Grid-v0" and config["num_envs"] == 2
    assert (run / "checkpoint.msgpack").stat().st_size > 0
    assert any(p.name.startswith("events.out.tfevents") for p in run.iterdir())
    saved = json.loads((run / "eval.json").read_text())
    assert saved["episodes"] == 3 and len(saved["returns"]) == 3
    assert all(saved["done"]), "every evaluation episode of MM-Grid ends well within the cap"
    # MM-Grid pays 0.1 per completed command; a failed command ends the episode.
    assert all(0.0 <= r <= 1.0 + 1e-6 for r in saved["returns"])
    assert saved["mean_return"] == pytest.approx(np.mean(saved["returns"]))
    assert summary["train_steps"] == 48 and summary["run_dir"] == str(run)
    assert "update     3/3" in printed and "SPS" in printed and "eval: return" in printed


def test_checkpoint_roundtrip_restores_every_leaf(finished, tmp_path):
    run, _, _ = finished
    trainer = Trainer(tiny(tmp_path))
    template = trainer.init(jax.random.key(123))
    restored = load_checkpoint(run / "checkpoint.msgpack", template)
    assert int(restored.update) == 3
    path = tmp_path / "again.msgpack"
    save_checkpoint(path, restored)
    again = load_checkpoint(path, template)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(again), strict=True):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "again.msgpack.tmp").exists()


def test_updates_are_deterministic_for_a_seed(tmp_path):
    trainer = Trainer(vector(tmp_path))
    a, ma = trainer.update(trainer.init(jax.random.key(7)))
    b, mb = trainer.update(trainer.init(jax.random.key(7)))
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(x, y)
    assert float(ma["loss"]) == float(mb["loss"])


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    class Poisoned(Trainer):
        """Reports a NaN loss from the third update on."""

        def __init__(self, config):
            super().__init__(config)
            real = self.update

            def update(ts):
                ts, m = real(ts)
                if int(ts.update) >= 3:
                    m = dict(m, loss=float("nan"))
                return ts, m

            self.update = update

    monkeypatch.setattr(train_module, "Trainer", Poisoned)
    config = vector(tmp_path, total_steps=80)
    with pytest.raises(NonFiniteLossError, match=r"update 3: loss is not finite"):
        train(config, console=quiet()[0])
    template = Poisoned(config).init(jax.random.key(0))
    kept = load_checkpoint(tmp_path / "run" / "checkpoint.msgpack", template)
    assert int(kept.update) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"env": "Nope-v0"}, "Nope-v0"),
        ({"num_minibatches": 3}, "num_minibatches: got 3"),
        ({"total_steps": 10}, "total_steps: got 10"),
        ({"num_envs": 0}, "num_envs: got 0"),
        ({"gamma": 1.5}, "gamma: got 1.5"),
        ({"lr": 0.0}, "lr: got 0.0"),
    ],
)
def test_bad_configuration_is_rejected_before_compiling(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        Trainer(tiny(tmp_path, **overrides))


def test_cli_reports_bad_configuration_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--env", "Nope-v0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Nope-v0" in err and "Traceback" not in err


def test_cli_help_lists_every_registered_memory_model_with_its_summary(capsys):
    from engram.models import MEMORY_MODELS, memory_spec

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "--agent {" + ",".join(MEMORY_MODELS) + "}" in text
    for name in MEMORY_MODELS:
        assert f"{name}: {memory_spec(name).summary}" in text


def test_cli_without_a_command_prints_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "train" in err and "play" in err and "record" in err


def test_ppo_defaults_follow_the_papers():
    """Memory Gym paper (reference 5.1; CleanRL ppo_trxl): AdamW with torch's defaults,
    advantages normalised only for Transformer-XL on MortarMayhem-Grid-v0 (CleanRL's
    benchmark; the paper's GRU runs never), no bootstrap at time limits, post-memory layer
    512 for the GRU and the Transformer-XL's width (384) for it. Memo paper (reference 3):
    Adam, eps 1e-5, no advantage normalisation."""
    gru = TrainConfig(env="MortarMayhem-Grid-v0")
    trxl = TrainConfig(env="MortarMayhem-Grid-v0", agent="trxl")
    memo = TrainConfig(env="MortarMayhem-Grid-v0", agent="memo")
    assert gru.advantage_normalization is False and gru.bootstrap_truncation is False
    assert trxl.advantage_normalization is True
    assert memo.advantage_normalization is False
    assert TrainConfig(env="MortarMayhem-v0", agent="trxl").advantage_normalization is False
    assert gru.optimizer_settings() == {
        "optimizer": "adamw",
        "adam_eps": 1e-8,
        "weight_decay": 0.01,
    }
    assert memo.optimizer_settings() == {"optimizer": "adam", "adam_eps": 1e-5, "weight_decay": 0.0}
    assert (gru.post_memory_width, trxl.post_memory_width, memo.post_memory_width) == (
        512,
        384,
        512,
    )
    with pytest.raises(ValueError, match="weight_decay"):
        TrainConfig(env="MortarMayhem-Grid-v0", optimizer="adam", weight_decay=0.1).validate()
    assert (
        TrainConfig(env="MortarMayhem-Grid-v0", normalize_advantages=False).advantage_normalization
        is False
    )


def test_learning_rate_and_entropy_anneal_linearly_over_the_paper_updates(tmp_path):
    """Paper (reference 5.1): lr 2.75e-4 -> 1e-5 and entropy 1e-4 -> 1e-6, linear over
    10,000 updates, constant afterwards."""
    c = TrainConfig()
    assert (c.lr, c.final_lr, c.ent_coef, c.final_ent_coef) == (2.75e-4, 1e-5, 1e-4, 1e-6)
    assert c.anneal_updates == 10_000
    trainer = Trainer(tiny(tmp_path, num_epochs=3, num_minibatches=2, anneal_updates=100))
    per_update = 3 * 2  # optimiser steps per update
    for update, frac in [(0, 0.0), (50, 0.5), (100, 1.0), (400, 1.0)]:
        # Constant within an update (neroRL and CleanRL set it once per update).
        for step in range(per_update):
            lr = float(trainer.lr_schedule(update * per_update + step))
            assert lr == pytest.approx(2.75e-4 + frac * (1e-5 - 2.75e-4), rel=1e-5)
        ent = float(trainer.ent_coef_schedule(update))
        assert ent == pytest.approx(1e-4 + frac * (1e-6 - 1e-4), rel=1e-5)


def test_checkpoint_of_another_configuration_is_refused(finished, tmp_path):
    run, _, _ = finished
    other = Trainer(tiny(tmp_path, memory_hidden=16)).init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"has shape .* the configuration expects"):
        load_checkpoint(run / "checkpoint.msgpack", other)


def _leaves(ts):
    return [
        np.asarray(
            jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
        )
        for x in jax.tree.leaves(ts)
    ]


@pytest.mark.parametrize("interruption", [RuntimeError, KeyboardInterrupt])
def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(tmp_path, monkeypatch, interruption):
    """A run killed during update 3 (RuntimeError: no checkpoint beyond update 2;
    KeyboardInterrupt: Ctrl-C writes one of update 2) and resumed ends with the same
    parameters, optimiser, environment states and key as a run never interrupted."""
    kw = dict(total_steps=64, checkpoint_every=2 if interruption is RuntimeError else 0)
    train(vector(tmp_path, run_name="full", **kw), console=quiet()[0])

    class Killed(Trainer):
        def __init__(self, config):
            super().__init__(config)
            real = self.update

            def update(ts):
                if int(ts.update) == 2:
                    raise interruption("killed")
                return real(ts)

            self.update = update

    monkeypatch.setattr(train_module, "Trainer", Killed)
    with pytest.raises(interruption):
        train(vector(tmp_path, run_name="killed", **kw), console=quiet()[0])
    monkeypatch.setattr(train_module, "Trainer", Trainer)
    console, out = quiet()
    summary = train(TrainConfig(resume=str(tmp_path / "killed")), console=console)
    assert "resuming" in out.getvalue() and "after update 2/4" in out.getvalue()

    template = Trainer(vector(tmp_path, **kw)).init(jax.random.key(0))
    full = load_checkpoint(tmp_path / "full" / "checkpoint.msgpack", template)
    resumed = load_checkpoint(tmp_path / "killed" / "checkpoint.msgpack", template)
    assert int(resumed.update) == 4
    for a, b in zip(_leaves(full), _leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    expected = json.loads((tmp_path / "full" / "eval.json").read_text())
    assert summary["returns"] == expected["returns"]


def test_resume_refuses_missing_and_corrupt_runs_without_writing(finished, tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        train(TrainConfig(resume=str(tmp_path / "nowhere")))
    run, _, _ = finished
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((run / "config.json").read_text())
    with pytest.raises(ValueError, match="has no checkpoint"):
        train(TrainConfig(resume=str(broken)))
    garbage = b"\x93not a checkpoint"
    (broken / "checkpoint.msgpack").write_bytes(garbage)
    before = sorted(p.name for p in broken.iterdir())
    with pytest.raises(ValueError, match="unreadable"):
        train(TrainConfig(resume=str(broken)))
    assert sorted(p.name for p in broken.iterdir()) == before
    assert (broken / "checkpoint.msgpack").read_bytes() == garbage


def test_cli_resume_refuses_other_options(finished, capsys):
    run, _, _ = finished
    with pytest.raises(SystemExit):
        cli.main(["train", "--resume", str(run), "--lr", "0.1"])
    assert "--lr" in capsys.readouterr().err


def test_config_file_gives_defaults_that_the_command_line_overrides(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"env": "MortarMayhem-v0", "num_minibatches": 3}))
    # The file's num_minibatches meets the command line's num_envs: both were read.
    with pytest.raises(SystemExit):
        cli.main(["train", "--config", str(path), "--num-envs", "4"])
    assert "num_minibatches: got 3, must divide num_envs (4)" in capsys.readouterr().err
    path.write_text(json.dumps({"env": "MortarMayhem-v0", "learning_rate": 1e-3}))
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['learning_rate'\]"):
        TrainConfig.from_file(path)


def test_repetitions_of_a_level_meet_the_same_level(tmp_path):
    """The paper's protocol: a greedy policy on the same level repeats the same episode;
    different levels differ."""
    from engram.evaluation import evaluate

    trainer = Trainer(tiny(tmp_path, env="MortarMayhem-v0"))
    ts = trainer.init(jax.random.key(0))
    r = evaluate(trainer.policy, ts.params, levels=6, seed=11, repetitions=3, deterministic=True)
    assert r["episodes"] == 18 and r["level"] == [i for i in range(6) for _ in range(3)]
    lengths = np.asarray(r["lengths"]).reshape(6, 3)
    assert (lengths == lengths[:, :1]).all()
    # Random actions from the same seed still differ between repetitions.
    rnd = evaluate(trainer.policy, ts.params, levels=6, seed=11, repetitions=3, random_policy=True)
    assert len(set(rnd["lengths"])) > 1


def test_engram_eval_saves_episodes_and_rliable_aggregates(finished, capsys):
    run, _, _ = finished
    cli.main(["eval", str(run), "--levels", "4", "--repetitions", "2", "--bootstrap-reps", "200"])
    printed = capsys.readouterr().out
    assert "IQM return" in printed and "random" in printed
    saved = json.loads((run / "evaluation.json").read_text())
    for policy in ("agent", "random"):
        r = saved[policy]
        returns = np.asarray(r["returns"])
        assert returns.shape == (8,) and r["levels"] == 4 and r["repetitions"] == 2
        assert r["return_mean"] == pytest.approx(returns.mean())
        lo, hi = r["return_iqm_ci"]
        assert returns.min() <= lo <= r["return_iqm"] <= hi <= returns.max()
        assert 0.0 <= r["success_mean"] <= 1.0
    assert saved["env"] == "MortarMayhem-Grid-v0" and saved["update"] == 3


def test_engram_eval_of_a_missing_run_is_one_clear_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["eval", str(tmp_path / "none")])
    assert e.value.code == 2
    assert "is not a folder" in capsys.readouterr().err


def test_engram_record_films_the_runs_agent(finished, tmp_path, capsys):
    imageio = pytest.importorskip("imageio.v3")
    run, _, _ = finished
    out = tmp_path / "agent.gif"
    cli.main(["record", str(run), "--out", str(out), "--scale", "1", "--debug", "--deterministic"])
    printed = capsys.readouterr().out
    assert "agent" in printed and f"wrote {out}" in printed
    frames = imageio.imread(out, index=None)
    # Agent view, 4-px gap, debug view; the caption bar below.
    assert frames.shape[1:] == (84 + 20, 84 * 2 + 4, 3)


def test_task_metrics_from_info_are_summed_over_finished_episodes(tmp_path):
    trainer = Trainer(tiny(tmp_path, num_steps=64, total_steps=128))
    assert trainer.policy.task_metrics == ("commands_completed",)
    _, m = trainer.update(trainer.init(jax.random.key(0)))
    # commands_completed is a fraction per episode (0.2 per command of 5 on MM-Grid).
    assert m["episodes"] > 0
    assert 0.0 <= float(m["task/commands_completed"]) <= float(m["episodes"])


def test_periodic_evaluation_and_wandb_tracking(tmp_path, monkeypatch):
    import sys
    import types

    calls = {}

    class FakeRun:
        def finish(self):
            calls["finished"] = True

    def init(**kwargs):
        calls["init"] = kwargs
        return FakeRun()

    fake = types.ModuleType("wandb")
    fake.init = init
    fake.__spec__ = importlib.machinery.ModuleSpec("wandb", None)
    monkeypatch.setitem(sys.modules, "wandb", fake)
    console, out = quiet()
    train(vector(tmp_path, eval_every=1, track=True, wandb_project="p"), console=console)
    printed = out.getvalue()
    assert "update     1: eval return" in printed and "update     2: eval return" in printed
    assert calls["init"]["sync_tensorboard"] is True and calls["init"]["project"] == "p"
    assert calls["init"]["config"]["env"] == "TMaze-v0" and calls["finished"]


def test_lstm_with_separate_actor_and_critic_bodies_trains(tmp_path):
    """The carry is a pytree (LSTM (h, c), twice for separate bodies): minibatches take
    their environments' carries leaf by leaf."""
    trainer = Trainer(vector(tmp_path, agent="lstm", shared_body=False))
    ts = trainer.init(jax.random.key(0))
    assert "critic_trunk" in ts.params["params"]
    ts2, m = trainer.update(ts)
    assert np.isfinite(float(m["loss"])) and int(ts2.update) == 1
    changed = jax.tree.map(lambda a, b: bool((a != b).any()), ts.params, ts2.params)
    assert all(jax.tree.leaves(changed["params"]["critic_trunk"]["mem"]))


def test_paper_preset_follows_the_reference_table():
    """Reference 5.1: 32 x 512 steps per update; budgets grid 10k, MM 30k, MP 25k, SS 25k,
    endless 50k updates; MP-Grid entropy 1e-3; no advantage normalisation."""
    from engram.presets import PAPER_UPDATES, paper_config

    assert PAPER_UPDATES["MortarMayhem-Grid-v0"] * 32 * 512 == 163_840_000
    assert PAPER_UPDATES["MortarMayhem-v0"] * 32 * 512 == 491_520_000
    assert PAPER_UPDATES["Endless-MysteryPath-v0"] * 32 * 512 == 819_200_000
    assert paper_config("MysteryPath-Grid-v0")["ent_coef"] == 1e-3
    others = ("TMaze-v0", "DarkKeyToDoor-v0", "ObjectNav-v0")  # engram's own tasks
    memory_gym = [i for i in engram.registered_ids() if i not in others]
    assert sorted(PAPER_UPDATES) == memory_gym  # every Memory Gym id has its preset
    with pytest.raises(ValueError, match="TMaze-v0"):
        paper_config("TMaze-v0")
    for env_id in memory_gym:
        config = TrainConfig.from_dict(paper_config(env_id))
        config.validate()  # every preset is a valid configuration
        assert (config.num_envs, config.num_steps, config.num_minibatches) == (32, 512, 8)
        assert config.advantage_normalization is False
        assert (
            config.post_memory_width == 512 and config.optimizer_settings()["optimizer"] == "adamw"
        )
    trxl = TrainConfig.from_dict({**paper_config("MortarMayhem-v0"), "agent": "trxl"})
    t = trxl.trxl_settings()
    assert (t.num_layers, t.dim, t.num_heads, t.memory_length) == (3, 384, 4, 275)
    assert trxl.post_memory_width == 384


def test_cli_paper_preset_is_overridden_by_the_command_line(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--config", "paper", "--env", "MortarMayhem-v0", "--num-envs", "12"])
    # The preset's 8 minibatches meet the command line's 12 environments.
    assert "num_minibatches: got 8, must divide num_envs (12)" in capsys.readouterr().err


def test_cli_alone_trains_the_default_run_of_the_readme(monkeypatch):
    """``engram train`` without --env and --config starts from presets.DEFAULT_RUN (the
    reduced Mortar Mayhem Grid with the paper's network that the README's "What the default
    run shows" describes), ``--agent none`` is its memory-less baseline and other options
    still override it; with --env the defaults are TrainConfig's (the paper's PPO at CPU
    size), and --config paper stays the paper's."""
    from engram.presets import DEFAULT_RUN

    seen: list[TrainConfig] = []
    monkeypatch.setitem(cli.COMMANDS, "train", (TrainConfig, seen.append, "train"))
    cli.main(["train"])
    cli.main(["train", "--agent", "none"])
    cli.main(["train", "--config", "default", "--num-envs", "8"])
    cli.main(["train", "--env", "MortarMayhem-Grid-v0"])
    cli.main(["train", "--config", "paper"])
    default, none, eight, plain, paper = seen
    assert default == TrainConfig.from_dict(DEFAULT_RUN)
    default.validate()
    assert default.env == "MortarMayhem-Grid-v0" and default.agent == "gru"
    # The paper's network: Atari CNN, GRU 512, dense 512, one shared body.
    assert (default.memory_hidden, default.post_memory_width, default.shared_body) == (
        512,
        512,
        True,
    )
    assert none == dataclasses.replace(default, agent="none")
    # The paper's Transformer-XL window on this id (119) is cut to the 13-step episodes.
    trxl = dataclasses.replace(default, agent="trxl")
    assert trxl.trxl_settings().memory_length == trxl.episode_cap() == 13
    assert eight == dataclasses.replace(default, num_envs=8, config="default")
    assert plain == TrainConfig(env="MortarMayhem-Grid-v0") and plain.env_options == ()
    assert paper.num_steps == 512 and paper.env_options == ()
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert " ".join(DEFAULT_RUN["env_options"]) in readme
    assert f"{DEFAULT_RUN['total_steps']:,} steps" in readme


def test_standing_still_in_the_default_run_succeeds_at_chance():
    """The default run's task needs a memory: after the two one-frame command symbols a
    memory-less agent can only guess the first command. Standing still guesses from the spawn
    tile alone; its success is the mean over the 9 spawn tiles of 1 / (valid commands):
    (4/3 + 4/4 + 1/5) / 9 = 0.28, the README's "standing still" line."""
    from engram.core.params import parse_options
    from engram.presets import DEFAULT_RUN

    env, params = engram.make(DEFAULT_RUN["env"], **parse_options(DEFAULT_RUN["env_options"]))

    def success_standing_still(key):
        _, state = env.reset(key, params)

        def step(carry, k):
            state, done, success = carry
            _, nxt, _, terminated, truncated, info = env.step(k, state, 0, params)
            success = jnp.where(done, success, info["success"])
            return (nxt, done | terminated | truncated, success), None

        carry = (state, jnp.asarray(False), jnp.asarray(0))
        (_, done, success), _ = jax.lax.scan(step, carry, jax.random.split(key, 24))
        return done, success

    done, success = jax.jit(jax.vmap(success_standing_still))(
        jax.random.split(jax.random.key(0), 3000)
    )
    assert bool(done.all())  # every episode ends within 24 steps
    assert abs(float(success.mean()) - (4 / 3 + 1 + 1 / 5) / 9) < 0.03


def test_env_options_reach_the_environment_and_are_checked(tmp_path):
    trainer = Trainer(tiny(tmp_path, env_options=("arena_size=4",)))
    assert int(trainer.policy.env_params.arena_size) == 4
    with pytest.raises(ValueError, match="arena_size"):
        Trainer(tiny(tmp_path, env_options=("arena_size=99",)))


def test_observation_reconstruction_trains_the_decoder(tmp_path):
    trainer = Trainer(tiny(tmp_path, obs_reconstruction=0.1))
    ts = trainer.init(jax.random.key(0))
    ts2, m = trainer.update(ts)
    # Per-pixel binary cross-entropy of targets in [0, 1]: positive, and near log 2 for a
    # fresh decoder whose outputs sit near 0.5.
    assert 0.2 < float(m["reconstruction_loss"]) < 1.5
    moved = jax.tree.map(lambda a, b: bool((a != b).any()), ts.params, ts2.params)
    assert all(jax.tree.leaves(moved["params"]["decoder"]))


def test_ground_truth_estimation_needs_and_predicts_the_infos_ground_truth(tmp_path):
    with pytest.raises(ValueError, match="ground_truth_estimation: MortarMayhem-Grid-v0"):
        Trainer(tiny(tmp_path, ground_truth_estimation=0.1))
    trainer = Trainer(tiny(tmp_path, env="Endless-MortarMayhem-v0", ground_truth_estimation=0.1))
    assert trainer.policy.ground_truth_dims == 2  # the target tile / 5 (reference section 1d)
    ts = trainer.init(jax.random.key(0))
    ts2, m = trainer.update(ts)
    assert np.isfinite(float(m["ground_truth_loss"]))
    # The stored ground truth is the info's: a tile index / 5 in [0, 1].
    gt = np.asarray(ts2.ground_truth)
    assert gt.shape == (2, 2) and ((gt >= 0) & (gt <= 1)).all()
    np.testing.assert_allclose(gt * 5, np.round(gt * 5), atol=1e-5)
    moved = jax.tree.map(lambda a, b: bool((a != b).any()), ts.params, ts2.params)
    assert all(jax.tree.leaves(moved["params"]["ground_truth"]))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"trxl_num_heads": 5}, r"trxl_num_heads: got 5, must divide trxl_dim \(384\)"),
        ({"trxl_memory_length": 0}, "trxl_memory_length: got 0"),
        ({"trxl_memory_length": 120}, r"trxl_memory_length: got 120, .*\(119 steps\)"),
        ({"trxl_num_layers": -1}, "trxl_num_layers: got -1"),
    ],
)
def test_bad_transformer_xl_configuration_is_rejected_before_compiling(
    tmp_path, overrides, message
):
    """MortarMayhem-Grid-v0's episodes last at most 119 steps (the original's
    calc_max_episode_steps), so a longer window is refused."""
    with pytest.raises(ValueError, match=message):
        Trainer(tiny(tmp_path, agent="trxl", **overrides))


def test_transformer_xl_defaults_are_the_papers_per_environment(tmp_path):
    """Reference 5.1: 3 x 384, window 275 on MM and 119 on MM-Grid; MP-Grid 2 x 256, window
    96, no positional encoding; the resolved architecture is what a run saves."""
    mm = tiny(tmp_path, env="MortarMayhem-v0", agent="trxl").trxl_settings()
    assert (mm.num_layers, mm.dim, mm.num_heads, mm.memory_length) == (3, 384, 4, 275)
    assert mm.positional_encoding and not mm.gated
    grid = tiny(tmp_path, env="MysteryPath-Grid-v0", agent="trxl").resolved()
    assert (grid["trxl_num_layers"], grid["trxl_dim"], grid["trxl_memory_length"]) == (2, 256, 96)
    assert grid["trxl_positional_encoding"] is False
    assert tiny(tmp_path, agent="trxl").trxl_settings().memory_length == 119


def test_multi_seed_programs_hand_jaxlib_no_batched_lapack_call(tmp_path):
    """The multi-seed stall (issue 20): jaxlib 0.10's CPU LAPACK kernels split a batch over
    XLA's intra-op pool and block until it is done, so two batched QR factorisations (the
    vmapped orthogonal initialisers) running at once deadlock a 2-thread pool. Every LAPACK
    call of the multi-seed programs must be on a single matrix (``num_batch_dims = "0"``)."""
    t = Trainer(tiny(tmp_path, num_seeds=2))
    keys = t.seed_keys()
    texts = [t.init.lower(keys).as_text(), t.update.lower(t.state_shapes()).as_text()]
    calls = [line for text in texts for line in text.splitlines() if "@lapack_" in line]
    assert calls, "the orthogonal initialisers should call LAPACK's QR"
    batch_dims = [re.search(r'num_batch_dims = "(\d+)"', line).group(1) for line in calls]
    assert set(batch_dims) == {"0"}


def test_pixel_seeds_in_one_program_equal_each_seed_alone(tmp_path):
    """--num-seeds on a pixel task (the CNN): seed k's first update equals a --seed k run's
    (environments exactly, parameters up to the rounding of batched convolutions)."""
    many = Trainer(tiny(tmp_path, num_seeds=2))
    ts, m = many.update(many.initial_state())
    assert np.asarray(m["loss"]).shape == (2,)
    alone = Trainer(tiny(tmp_path, seed=1))
    one, _ = alone.update(alone.initial_state())
    for a, b in zip(jax.tree.leaves(one.env_state), jax.tree.leaves(ts.env_state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[1])
    got = jax.tree.leaves(many.seed_params(ts, 1))
    for a, b in zip(jax.tree.leaves(one.params), got, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    seed0 = jax.tree.leaves(many.seed_params(ts, 0))[0]
    assert not np.allclose(np.asarray(seed0), np.asarray(jax.tree.leaves(one.params)[0]))


def test_several_seeds_in_one_program_learn_as_each_seed_alone(tmp_path):
    """--num-seeds K vmaps the seeds: seed k's parameters after two updates equal those of
    a --seed k run (up to float rounding of the batched matrix products)."""
    many = Trainer(vector(tmp_path, num_seeds=2, seed=3))
    ts = many.init(many.seed_keys())
    for _ in range(2):
        ts, metrics = many.update(ts)
    assert np.asarray(metrics["loss"]).shape == (2,)
    for k in range(2):
        alone = Trainer(vector(tmp_path, seed=3 + k))
        one = alone.init(alone.seed_keys())
        for _ in range(2):
            one, _ = alone.update(one)
        got = jax.tree.leaves(many.seed_params(ts, k))
        want = jax.tree.leaves(one.params)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    # The two seeds are different runs.
    a, b = (jax.tree.leaves(many.seed_params(ts, k))[0] for k in range(2))
    assert not np.allclose(np.asarray(a), np.asarray(b))
