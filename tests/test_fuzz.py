"""Fuzzing (hypothesis, bounded): every registered id with random reset parameters inside
and outside their ranges and random actions, through the JAX API and through Gymnasium;
and ``engram train`` options with bad values through the command line.

In range, a rollout raises nothing and its observations, rewards and infos are finite,
the observations inside the observation space; out of range, ``ValueError`` names the
parameter. Compilation dominates, so each id compiles one rollout with its parameters
traced: the parameters that shape the program (static ones: they change
``env.static_key`` or a parameter's shape) keep their defaults in rollouts and are fuzzed
through ``engram.make``'s validation only.
"""

from __future__ import annotations

import math

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rollouts import random_rollout

import engram
import engram.gym  # noqa: F401  (registers the engram/<id> Gymnasium ids)
from engram import cli
from engram.core.params import ResetParameter
from engram.run import loop as loop_module

IDS = engram.registered_ids()
T = 8  # steps per fuzzed rollout
INT32_MAX = 2**31 - 1
#: Open upper bound of int parameters in the fuzz: what a float32/int32 program can hold.
OPEN_INT_HIGH = INT32_MAX
#: Open bounds of float parameters in the fuzz (rewards, mostly).
OPEN_FLOAT = 1e6
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _signature(env, params) -> tuple:
    shapes = tuple((np.shape(x), np.asarray(x).dtype.str) for x in jax.tree.leaves(params))
    return env.static_key, jax.tree.structure(params), shapes


def _probes(p: ResetParameter) -> list:
    """In-range values other than the default, to find out whether ``p`` is static."""
    if p.kind == "bool":
        return [not p.default]
    if p.kind == "int_list":
        hi = p.low + 7 if p.high is None else p.high
        return [[p.low] * len(p.default), [hi] * len(p.default)]
    lo = -1.5 if p.low is None else p.low
    hi = (lo + 7 if p.kind == "int" else lo + 3.0) if p.high is None else p.high
    return [lo, hi]


def _static(env_id: str) -> set[str]:
    env, params = engram.make(env_id)
    base = _signature(env, params)
    out = set()
    for p in engram.reset_parameters(env_id):
        for value in _probes(p):
            try:
                made = engram.make(env_id, **{p.name: value})
            except ValueError:  # a joint constraint with another default: not a probe
                continue
            if _signature(*made) != base:
                out.add(p.name)
    return out


def _in_range(p: ResetParameter, list_length: int | None = None):
    if p.kind == "bool":
        return st.booleans()
    if p.kind in ("int", "int_list"):
        hi = OPEN_INT_HIGH if p.high is None else int(p.high)
        ints = st.integers(int(p.low) if p.low is not None else -OPEN_INT_HIGH, hi)
        if p.kind == "int":
            return ints
        n = list_length or 1
        return st.lists(ints, min_size=n, max_size=n)
    lo = -OPEN_FLOAT if p.low is None else p.low
    hi = OPEN_FLOAT if p.high is None else p.high
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _out_of_range(p: ResetParameter):
    """Values ``p`` must refuse: beyond its bounds, non-finite, of the wrong type."""
    bad = [st.just("3"), st.just(None)]
    if p.kind == "bool":
        return st.sampled_from([2, -1, 0.5, "True", None])
    if p.kind in ("int", "int_list"):
        if p.low is not None:
            bad.append(st.integers(-(2**40), int(p.low) - 1))
        if p.high is not None:
            bad.append(st.integers(int(p.high) + 1, 2**40))
        bad.append(st.sampled_from([1.5, float("nan"), True]))
        if p.kind == "int_list":
            return st.one_of(st.just([]), st.one_of(*bad).map(lambda v: [v]))
        return st.one_of(*bad)
    if p.low is not None:
        bad.append(st.floats(max_value=p.low, exclude_max=True, allow_nan=False))
    if p.high is not None:
        bad.append(st.floats(min_value=p.high, exclude_min=True, allow_nan=False))
    bad.append(st.sampled_from([float("nan"), float("inf"), -float("inf"), True]))
    return st.one_of(*bad)


def _finite(tree) -> bool:
    return all(
        np.isfinite(np.asarray(x)).all()
        for x in jax.tree.leaves(tree)
        if np.issubdtype(np.asarray(x).dtype, np.inexact)
    )


def _in_space(space, obs) -> bool:
    """``obs`` (one observation, NumPy) inside the engram ``space``, dtype included."""
    if isinstance(obs, dict):
        return obs.keys() == space.spaces.keys() and all(
            _in_space(space.spaces[k], v) for k, v in obs.items()
        )
    return np.asarray(obs).dtype == np.dtype(space.dtype) and space.contains(obs)


class Fuzzed:
    """One id: its static parameters and one compiled rollout with traced params."""

    def __init__(self, env_id: str):
        self.env_id = env_id
        self.specs = engram.reset_parameters(env_id)
        self.static = _static(env_id)
        self.env, self.params = engram.make(env_id)
        self.signature = _signature(self.env, self.params)
        run = random_rollout(self.env, T)

        @jax.jit
        def rollout(key, params):
            obs0, (obs, _, reward, term, trunc, info) = run(key, params)
            return obs0, (obs, reward, term, trunc, info)

        self.rollout = rollout


_FUZZED: dict[str, Fuzzed] = {}


def fuzzed(env_id: str) -> Fuzzed:
    if env_id not in _FUZZED:
        _FUZZED[env_id] = Fuzzed(env_id)
    return _FUZZED[env_id]


@st.composite
def overrides(draw, f: Fuzzed, allow_static: bool):
    """A random subset of the reset parameters at random in-range values."""
    out = {}
    for p in f.specs:
        if p.name in f.static and not allow_static:
            continue
        if draw(st.booleans()):
            length = len(p.default) if p.kind == "int_list" else None
            out[p.name] = draw(_in_range(p, length))
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_jax_api_in_range_parameters_give_finite_rollouts_inside_the_space(env_id):
    f = fuzzed(env_id)

    @settings(max_examples=5, **SETTINGS)
    @given(over=overrides(f, allow_static=False), seed=st.integers(0, 2**32 - 1))
    def check(over, seed):
        try:
            env, params = engram.make(env_id, **over)
        except ValueError as e:
            # Values in range one by one can break a joint constraint (spot_min_radius
            # above spot_max_radius, trial_length below episode_length): refused by name.
            assert any(name in str(e) for name in over), f"{over}: {e}"
            return
        if _signature(env, params) != f.signature:
            # A value that shapes the program although the probes did not show it (e.g.
            # Endless Mortar Mayhem's initial_command_count past its 128-command buffer):
            # validated by make, not run (it would compile a program per value).
            assert _finite(params), f"non-finite params with {over}"
            return
        obs0, (obs, reward, term, trunc, info) = f.rollout(jax.random.key(seed), params)
        jax.block_until_ready(obs)
        assert _finite((obs0, obs, reward, info)), f"non-finite values with {over}"
        assert np.asarray(reward).dtype == np.float32
        first = jax.tree.map(np.asarray, obs0)
        assert _in_space(env.observation_space, first), f"reset obs outside the space: {over}"
        for t in range(T):
            o = jax.tree.map(lambda x, t=t: np.asarray(x[t]), obs)
            assert _in_space(env.observation_space, o), f"obs {t} outside the space: {over}"

    check()


@pytest.mark.parametrize("env_id", IDS)
def test_jax_api_refuses_out_of_range_parameters_by_name(env_id):
    """Every parameter, static ones included, one at a time out of range (before any
    compilation: nothing here runs an environment). In-range values of the static
    parameters build an environment."""
    specs = engram.reset_parameters(env_id)

    @settings(max_examples=40, **SETTINGS)
    @given(data=st.data())
    def check(data):
        p = data.draw(st.sampled_from(specs))
        value = data.draw(_out_of_range(p))
        with pytest.raises(ValueError, match=f"'{p.name}'"):
            engram.make(env_id, **{p.name: value})
        with pytest.raises(ValueError, match=f"'{p.name}'"):
            gymnasium.make(f"engram/{env_id}", **{p.name: value})

    check()


@pytest.mark.parametrize("env_id", ["MortarMayhem-Grid-v0", "TMaze-v0", "SearingSpotlights-v0"])
def test_gymnasium_in_range_options_and_random_actions(env_id):
    """Through ``gymnasium.make``: in-range options at reset, valid actions step with finite
    results inside the space, invalid actions (wrong shape, dtype, range, type) raise a
    ``ValueError`` naming ``action`` and leave the episode as it was."""
    f = fuzzed(env_id)
    genv = gymnasium.make(f"engram/{env_id}")
    space = genv.action_space
    invalid = st.one_of(
        st.just("up"),
        st.just(None),
        st.just([[0, 0], [0, 0]]),
        st.floats(0.1, 0.9),
        st.just(np.zeros((7,), np.int32)),
        st.just(float("nan")),
        st.integers(10**3, 10**9),
        st.integers(-(10**9), -1),
    )

    @settings(max_examples=4, **SETTINGS)
    @given(over=overrides(f, allow_static=False), seed=st.integers(0, 2**31 - 1), data=st.data())
    def check(over, seed, data):
        try:
            obs, info = genv.reset(seed=seed, options=over)
        except ValueError as e:  # a joint constraint, refused by name (see above)
            assert any(name in str(e) for name in over), f"{over}: {e}"
            return
        assert genv.observation_space.contains(obs) and _finite(info)
        for _ in range(4):
            bad = data.draw(invalid)
            with pytest.raises(ValueError, match="action"):
                genv.step(bad)
            action = space.sample()
            obs, reward, terminated, truncated, info = genv.step(action)
            assert genv.observation_space.contains(obs), f"obs outside the space: {over}"
            assert math.isfinite(reward) and _finite(info), f"non-finite step: {over}"
            if terminated or truncated:
                break

    check()
    genv.close()


#: engram train options and values each must refuse (type-correct, value wrong).
BAD_TRAIN_OPTIONS = {
    "num-envs": ["0", "-3"],
    "num-epochs": ["0"],
    "num-minibatches": ["0", "-1"],
    "num-steps": ["0", "-8"],
    "total-steps": ["0", "-1"],
    "gamma": ["1.5", "-0.1", "nan"],
    "gae-lambda": ["2", "nan"],
    "clip": ["0", "-0.2", "nan"],
    "lr": ["0", "-1e-3", "nan", "inf"],
    "final-lr": ["0", "nan"],
    "max-grad-norm": ["0", "nan"],
    "vf-coef": ["-1", "nan", "inf"],
    "ent-coef": ["-1", "nan", "inf"],
    "final-ent-coef": ["-1", "nan"],
    "anneal-updates": ["0"],
    "memory-hidden": ["0", "-1"],
    "hidden": ["0"],
    "adam-eps": ["0", "nan"],
    "weight-decay": ["-0.1", "nan"],
    "eval-levels": ["0"],
    "eval-repetitions": ["0"],
    "num-seeds": ["0"],
    "checkpoint-every": ["-1"],
    "eval-every": ["-1"],
    "obs-reconstruction": ["-1", "nan"],
    "ground-truth-estimation": ["-1", "nan"],
    "segment-jitter": ["-0.5", "nan", "1.5"],
    "env": ["Nope-v0", ""],
    "env-options": ["agent_scale=7", "no_such=1", "agent_scale", "arena_size=nan"],
}


class _Started(Exception):
    """A configuration passed validation and training was about to start."""


def test_cli_refuses_bad_train_options_in_one_line_naming_them(tmp_path, monkeypatch, capsys):
    def started(config):
        raise _Started(config)

    # Validation runs before the trainer is built: reaching it means the value passed.
    monkeypatch.setattr(loop_module, "Trainer", started)
    cases = [(k, v) for k, values in BAD_TRAIN_OPTIONS.items() for v in values]

    @settings(max_examples=len(cases), **SETTINGS)
    @given(case=st.sampled_from(cases))
    def check(case):
        option, value = case
        args = ["train", f"--{option}", value, "--run-dir", str(tmp_path)]
        if option == "env-options":
            args += ["--env", "MortarMayhem-v0"]
        capsys.readouterr()
        try:
            cli.main(args)
        except _Started:
            pytest.fail(f"--{option} {value!r} was accepted")
        except SystemExit as e:
            assert e.code == 2, f"--{option} {value!r}: exit {e.code}"
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err, f"--{option} {value!r}: {err}"
        name = option.replace("-", "_")
        if option == "env-options":
            assert any(s in err for s in ("agent_scale", "no_such", "arena_size", "option"))
        elif option != "env":
            assert name in err, f"--{option} {value!r}: {err}"

    for case in cases:  # every case once, deterministically, then hypothesis' draws
        check.hypothesis.inner_test(case=case)
    check()


def test_jax_step_traces_wrong_action_shapes_to_an_error():
    """The JAX API cannot check traced actions; the host-side check refuses them."""
    env, params = engram.make("MortarMayhem-Grid-v0")
    for bad in [np.int32(99), np.zeros((2,), np.int32), np.float32(1.5), "x", -1]:
        with pytest.raises(ValueError, match="action"):
            env.check_action(bad)
    env.check_action(jnp.int32(0))
