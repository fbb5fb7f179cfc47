"""engram's GRU agent and PPO loss against golden values of neroRL (the Memory Gym paper's
code) run under PyTorch: ``tests/models/data/gru_golden.npz``, written by
``scripts/golden_gru.py`` (its docstring lists the neroRL files and lines it follows, the
setting and the file's arrays).

neroRL's weights (``embed: False``; its heads' own Linear + ReLU set to the identity, which
engram's layout does not have) are loaded into engram's ``ActorCritic`` with memory ``"gru"``
(Atari CNN, the GRU, neroRL's ``body`` as the Trunk's body, the policy branches concatenated
as the policy head, the value head), then

* acting, step by step over 11 steps with episode starts (resets) inside: logits, values,
  log-probabilities of the taken actions and the GRU state;
* learning, the sequence form over the last 8 steps from the carry before them, with the
  state zeroed where episodes start (neroRL instead splits the rollout into zero-padded
  episode sequences, each started from its stored state): logits, values, entropies;
* the PPO loss terms of :func:`engram.ppo.loss.ppo_loss` (without and with minibatch
  advantage normalisation) and the gradients of the total loss with respect to every
  parameter.

Tolerance: ``max |engram - neroRL| <= 1e-5 * scale``, with ``scale`` the largest magnitude
of the reference array (at least 1e-3, for arrays that are almost zero); relative to the
array because float32 rounding grows with the magnitude of the values, and the gradients
range over an order of magnitude between parameters, so one absolute bound would be loose
for the small ones. Both sides compute in float32 with other summation orders (XLA's and
torch's convolutions and dot products over up to 3136 terms), which moves results by about
1e-7 to 1e-6 of their scale. The policy losses and the total losses are means of terms of
order 1 (advantages drawn from N(0, 1), ratios near 1) that nearly cancel (the policy loss
with normalised advantages is 0.004): their rounding is of order 1e-7 of the terms, so their
scale is at least 1. A semantic difference (a bias in another place of the GRU, a
state not reset, a joint ratio, another value-loss weight) moves them by 1e-3 or more.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from torch_layout import (
    CHW_OF_HWC,
    HWC_OF_CHW,
    as_stored,
    assert_close,
    branches_from_torch,
    branches_to_torch,
    cnn_from_torch,
    cnn_to_torch,
)

from engram.models import ActorCritic, RecurrentSettings, log_prob_entropy
from engram.ppo.loss import ppo_loss

DATA = Path(__file__).parent / "data" / "gru_golden.npz"
ACTION_DIMS = (3, 3)
GRU_HIDDEN, BODY_HIDDEN = 16, 16
WARMUP = 3  # acting steps before the rollout that is learned from
GRU = "recurrent_layer.recurrent_layer."
# scripts/golden_gru.py stores every GRAD_STRIDE-th gradient element of these:
STRIDED = (
    "vis_encoder.conv1.weight",
    "vis_encoder.conv2.weight",
    "vis_encoder.conv3.weight",
    GRU + "weight_ih_l0",
)
# neroRL's heads' Linear + ReLU, the identity in the golden file; engram has no such layer.
IDENTITY_HEAD_LAYERS = ("actor_policy.linear", "critic.linear")
_BRANCHES = [f"actor_policy.policy_branches.{i}" for i in range(len(ACTION_DIMS))]


def _conv(i: int) -> str:
    return f"vis_encoder.conv{i + 1}"


def _close(actual, expected, what, rel=1e-5, floor=1e-3):
    assert_close(actual, expected, what, "neroRL", rel, floor)


@functools.cache
def _golden():
    with np.load(DATA) as f:
        return {k: f[k] for k in f.files}


def _agent():
    return ActorCritic(
        action_dims=ACTION_DIMS,
        memory="gru",
        memory_settings=RecurrentSettings(hidden=GRU_HIDDEN),
        hidden=BODY_HIDDEN,
    )


# neroRL (torch) parameter layout <-> engram's parameter tree. torch's Linear weight is
# (out, in), flax's Dense kernel (in, out); torch's Conv2d weight OIHW, flax's Conv HWIO.
# torch's GRU: weight_ih (3H, in) and weight_hh (3H, H), rows in gate order r, z, n, biases
# b_ih and b_hh apart (b_hn inside r * (...)); engram's GRU: the input Dense (kernel
# (in, 3H), bias = b_ih) and recurrent_kernel (H, 3H), recurrent_bias (= b_hh), columns in
# the same gate order, the recurrent bias inside r * (...) for n.
def _from_torch(w):
    """engram's parameter tree from neroRL's named parameters (float32 arrays)."""
    f = lambda name: np.asarray(w[name], np.float32)  # noqa: E731
    conv = cnn_from_torch(w, _conv)
    mem = {
        # engram flattens the CNN output channel-last, torch channel-first (torch_layout).
        "input": {"kernel": f(GRU + "weight_ih_l0").T[CHW_OF_HWC], "bias": f(GRU + "bias_ih_l0")},
        "recurrent_kernel": f(GRU + "weight_hh_l0").T,
        "recurrent_bias": f(GRU + "bias_hh_l0"),
    }
    tree = {
        "trunk": {
            "encoder": conv,
            "mem": mem,
            "body": {
                "kernel": f("body.hidden_layer.0.weight").T,
                "bias": f("body.hidden_layer.0.bias"),
            },
        },
        "policy": branches_from_torch(w, _BRANCHES),
        "value": {"kernel": f("critic.value.weight").T, "bias": f("critic.value.bias")},
    }
    return {"params": jax.tree_util.tree_map(jnp.asarray, tree)}


def _to_torch(tree):
    """The inverse of :func:`_from_torch` (for gradients): neroRL name -> numpy array."""
    p = jax.tree_util.tree_map(np.asarray, tree["params"])
    out = {}
    cnn_to_torch(p["trunk"]["encoder"], _conv, out)
    mem = p["trunk"]["mem"]
    out[GRU + "weight_ih_l0"] = mem["input"]["kernel"][HWC_OF_CHW].T
    out[GRU + "bias_ih_l0"] = mem["input"]["bias"]
    out[GRU + "weight_hh_l0"] = mem["recurrent_kernel"].T
    out[GRU + "bias_hh_l0"] = mem["recurrent_bias"]
    out["body.hidden_layer.0.weight"] = p["trunk"]["body"]["kernel"].T
    out["body.hidden_layer.0.bias"] = p["trunk"]["body"]["bias"]
    branches_to_torch(p["policy"], _BRANCHES, ACTION_DIMS, out)
    out["critic.value.weight"] = p["value"]["kernel"].T
    out["critic.value.bias"] = p["value"]["bias"]
    return out


def _weights():
    g = _golden()
    return {k[2:]: v for k, v in g.items() if k.startswith("w/")}


def _loss_inputs(g):
    rollout = slice(WARMUP, None)
    return (
        jnp.asarray(g["act_hxs"][WARMUP - 1]),
        jnp.asarray(g["obs"][rollout]),
        jnp.asarray(g["reset"][rollout]),
        jnp.asarray(g["actions"][rollout], jnp.int32),
    )


def _loss(params, normalize=False):
    g = _golden()
    carry0, obs, reset, actions = _loss_inputs(g)
    _, logits, values = _agent().apply(params, carry0, obs, reset)
    logp, entropy = log_prob_entropy(logits, actions, ACTION_DIMS)
    return ppo_loss(
        logp,
        jnp.asarray(g["old_logp"]),
        jnp.asarray(g["advantages"]),
        values,
        jnp.asarray(g["old_values"]),
        jnp.asarray(g["returns"]),
        entropy,
        float(g["clip"]),
        float(g["vf_coef"]),
        float(g["ent_coef"]),
        normalize_advantages=normalize,
    )


def test_golden_file_covers_the_cases():
    """The setting exercises what the checks are for: resets inside the rollout, a nonzero
    initial state, ratios and value updates on both sides of the clip range."""
    g = _golden()
    reset = g["reset"][WARMUP:]
    assert reset[0].any() and reset[1:].any() and not reset[:, -1].any()
    assert np.abs(g["act_hxs"][WARMUP - 1]).min() > 0.0  # so the resets have work to do
    ratio = np.exp(g["act_logp"][WARMUP:] - g["old_logp"])
    assert (ratio > 1 + g["clip"]).any() and (ratio < 1 - g["clip"]).any()
    assert (np.abs(ratio - 1) < g["clip"]).any()
    dv = np.abs(g["learn_values"] - g["old_values"])
    assert (dv > g["clip"]).any() and (dv < g["clip"]).any()
    assert 0.0 < float(g["clip_fraction"]) < 1.0


def test_weights_map_onto_every_parameter():
    w = _weights()
    for name in IDENTITY_HEAD_LAYERS:
        np.testing.assert_array_equal(w[name + ".weight"], np.eye(BODY_HIDDEN))
        np.testing.assert_array_equal(w[name + ".bias"], 0.0)
    params = _from_torch(w)
    g = _golden()
    carry0, obs, reset, _ = _loss_inputs(g)
    init = _agent().init(jax.random.key(0), carry0, obs, reset)
    shapes = lambda t: jax.tree_util.tree_map(np.shape, t)  # noqa: E731
    assert shapes(params) == shapes(init)
    back = _to_torch(params)
    mapped = set(back) | {n + s for n in IDENTITY_HEAD_LAYERS for s in (".weight", ".bias")}
    assert mapped == set(w)
    for name, value in back.items():
        np.testing.assert_array_equal(value, w[name].astype(np.float32), err_msg=name)


def test_acting_step_by_step():
    g = _golden()
    agent, params = _agent(), _from_torch(_weights())
    step = jax.jit(functools.partial(agent.apply, method=ActorCritic.step))
    carry = agent.initial_carry(g["obs"].shape[1])
    for s in range(g["obs"].shape[0]):
        carry, logits, value = step(params, carry, g["obs"][s], g["reset"][s])
        logp, _ = log_prob_entropy(logits, jnp.asarray(g["actions"][s], jnp.int32), ACTION_DIMS)
        _close(logits, g["act_logits"][s], f"acting logits, step {s}")
        _close(value, g["act_values"][s], f"acting values, step {s}")
        _close(logp, g["act_logp"][s], f"acting log-probabilities, step {s}")
        _close(carry, g["act_hxs"][s], f"GRU state after step {s}")


def test_learning_pass():
    g = _golden()
    carry0, obs, reset, actions = _loss_inputs(g)
    _, logits, values = _agent().apply(_from_torch(_weights()), carry0, obs, reset)
    _, entropy = log_prob_entropy(logits, actions, ACTION_DIMS)
    _close(logits, g["learn_logits"], "learning logits")
    _close(values, g["learn_values"], "learning values")
    _close(entropy, g["learn_entropy"], "learning entropies")


def test_loss_terms():
    g = _golden()
    params = _from_torch(_weights())
    loss, m = _loss(params)
    # neroRL's "policy_loss" is the clipped surrogate objective; engram's is its negation.
    _close(m["policy_loss"], -g["policy_objective"], "policy loss", floor=1.0)
    _close(m["value_loss"], g["vf_loss"], "value loss")
    _close(m["entropy"], g["entropy"], "entropy")
    _close(m["approx_kl"], g["approx_kl"], "approx_kl")
    _close(m["clipfrac"], g["clip_fraction"], "clip fraction")
    _close(loss, g["loss"], "total loss", floor=1.0)
    loss, m = _loss(params, normalize=True)
    what = "(normalised advantages)"
    _close(m["policy_loss"], -g["policy_objective_norm"], f"policy loss {what}", floor=1.0)
    _close(loss, g["loss_norm"], f"total loss {what}", floor=1.0)


def test_gradients_of_the_total_loss():
    g = _golden()
    grads = jax.grad(lambda p: _loss(p)[0])(_from_torch(_weights()))
    for name, grad in _to_torch(grads).items():
        expected = g["g/" + name]
        actual = as_stored(grad, name, STRIDED)
        _close(actual, expected, f"gradient of {name}")
