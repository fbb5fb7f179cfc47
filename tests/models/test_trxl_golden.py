"""engram's Transformer-XL agent against golden values of CleanRL's ``ppo_trxl`` (the Memory
Gym paper's code) run under PyTorch: ``tests/models/data/trxl_cleanrl_golden.npz``, written by
``scripts/golden_trxl.py`` (its docstring lists the setting and the file's arrays).

CleanRL's weights are loaded into engram's ``ActorCritic`` (Atari CNN, the Transformer-XL's
embedding and blocks, CleanRL's ``hidden_post_trxl`` as the Trunk's body, the actor branches
concatenated as the policy head, the critic as the value head), then

* acting, step by step over two rollouts with episode ends inside them and windows that
  slide: logits, values and the stored layer inputs (the trxl spec's ``recorded``,
  :func:`engram.models.transformer_xl.recorded_step`);
* learning, ``ActorCritic.__call__`` over the second rollout from the carry at its start with
  ``recorded`` (what acting stored, ``ActorCritic.recorded``): logits and values;
* the PPO loss terms of :func:`engram.ppo.loss.ppo_loss` and the gradients of the total loss
  with respect to every parameter.

Tolerance: ``max |engram - CleanRL| <= 1e-5 * scale``, with ``scale`` the largest magnitude
of the reference array (at least 1e-3, for arrays that are almost zero). Both sides compute in
float32 with other summation orders (XLA's and torch's convolutions and dot products over up
to 3136 terms), which moves results by about 1e-7 to 1e-6 of their scale; a semantic
difference (a step attending to itself, another logit scale, another positional encoding,
another LayerNorm epsilon) moves them by 1e-3 or more.
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

from engram.models import ActorCritic, TransformerXLSettings
from engram.models.transformer_xl import episode_position_encoding
from engram.ppo.loss import ppo_loss

DATA = Path(__file__).parent / "data" / "trxl_cleanrl_golden.npz"
ACTION_DIMS = (3, 3)
NUM_LAYERS, DIM, NUM_HEADS, WINDOW, HORIZON = 2, 32, 2, 4, 119
FIRST_ROLLOUT = 5  # acting steps before the rollout that is learned from
# scripts/golden_trxl.py stores every GRAD_STRIDE-th gradient element of these:
STRIDED = ("encoder.2.weight", "encoder.4.weight", "encoder.7.weight")


def _close(actual, expected, what, rel=1e-5):
    assert_close(actual, expected, what, "CleanRL", rel)


# CleanRL (torch) parameter layout <-> engram's parameter tree (layouts: torch_layout.py).
_BRANCHES = [f"actor_branches.{k}" for k in range(len(ACTION_DIMS))]


def _conv(i: int) -> str:
    return f"encoder.{2 * i}"  # CleanRL's Sequential: conv, ReLU, conv, ReLU, conv, ...


def _dense(w, name):
    return {"kernel": w[f"{name}.weight"].T, "bias": w[f"{name}.bias"]}


def _norm(w, name):
    return {"scale": w[f"{name}.weight"], "bias": w[f"{name}.bias"]}


def _from_torch(w: dict) -> dict:
    """engram's ``ActorCritic`` parameters from CleanRL's ``Agent`` state (numpy arrays)."""
    convs = cnn_from_torch(w, _conv)
    embed = w["encoder.7.weight"].T[CHW_OF_HWC]
    mem = {"embed": {"kernel": embed, "bias": w["encoder.7.bias"]}}
    for i in range(NUM_LAYERS):
        t = f"transformer.transformer_layers.{i}"
        mem[f"block_{i}"] = {
            "norm_q": _norm(w, f"{t}.layer_norm_q"),
            "norm_kv": _norm(w, f"{t}.norm_kv"),
            "norm_mlp": _norm(w, f"{t}.layer_norm_attn"),
            "attention": {
                "query": {"kernel": w[f"{t}.attention.queries.weight"].T},
                "key": {"kernel": w[f"{t}.attention.keys.weight"].T},
                "value": {"kernel": w[f"{t}.attention.values.weight"].T},
                "out": _dense(w, f"{t}.attention.fc_out"),
            },
            "mlp": _dense(w, f"{t}.fc_projection.0"),
        }
    policy = branches_from_torch(w, _BRANCHES)
    return {
        "trunk": {"encoder": convs, "mem": mem, "body": _dense(w, "hidden_post_trxl.0")},
        "policy": policy,
        "value": _dense(w, "critic"),
    }


def _to_torch(tree: dict) -> dict:
    """The inverse of :func:`_from_torch` (for gradients): CleanRL names and layouts."""
    tree = jax.tree.map(np.asarray, tree)
    out = {}

    def dense(node, name):
        out[f"{name}.weight"], out[f"{name}.bias"] = node["kernel"].T, node["bias"]

    def norm(node, name):
        out[f"{name}.weight"], out[f"{name}.bias"] = node["scale"], node["bias"]

    trunk = tree["trunk"]
    cnn_to_torch(trunk["encoder"], _conv, out)
    out["encoder.7.weight"] = trunk["mem"]["embed"]["kernel"][HWC_OF_CHW].T
    out["encoder.7.bias"] = trunk["mem"]["embed"]["bias"]
    for i in range(NUM_LAYERS):
        t, block = f"transformer.transformer_layers.{i}", trunk["mem"][f"block_{i}"]
        norm(block["norm_q"], f"{t}.layer_norm_q")
        norm(block["norm_kv"], f"{t}.norm_kv")
        norm(block["norm_mlp"], f"{t}.layer_norm_attn")
        for ours, theirs in (("query", "queries"), ("key", "keys"), ("value", "values")):
            out[f"{t}.attention.{theirs}.weight"] = block["attention"][ours]["kernel"].T
        dense(block["attention"]["out"], f"{t}.attention.fc_out")
        dense(block["mlp"], f"{t}.fc_projection.0")
    dense(trunk["body"], "hidden_post_trxl.0")
    branches_to_torch(tree["policy"], _BRANCHES, ACTION_DIMS, out)
    dense(tree["value"], "critic")
    return out


def _component_logp_entropy(logits, actions):
    """Per-component log-probabilities ``(..., K)`` and the summed entropy ``(...)``."""
    parts = jnp.split(logits, np.cumsum(ACTION_DIMS)[:-1], axis=-1)
    logps, entropy = [], 0.0
    for k, part in enumerate(parts):
        lp = jax.nn.log_softmax(part)
        logps.append(jnp.take_along_axis(lp, actions[..., k : k + 1], -1)[..., 0])
        entropy = entropy - jnp.sum(jnp.exp(lp) * lp, -1)
    return jnp.stack(logps, -1), entropy


@functools.cache
def _golden():
    """The golden file, engram's agent with CleanRL's weights, and engram's acting run."""
    g = dict(np.load(DATA))
    torch_weights = {k[2:]: g[k].astype(np.float32) for k in g if k.startswith("w/")}
    settings = TransformerXLSettings(
        num_layers=NUM_LAYERS,
        dim=DIM,
        num_heads=NUM_HEADS,
        memory_length=WINDOW,
        positional_encoding_horizon=HORIZON,
    )
    agent = ActorCritic(
        action_dims=ACTION_DIMS, memory="trxl", memory_settings=settings, hidden=DIM
    )
    obs, resets = jnp.asarray(g["obs"]), jnp.asarray(g["reset"])
    n_envs = obs.shape[1]
    carry = agent.initial_carry(n_envs)
    init = agent.init(jax.random.key(0), carry, obs[0], resets[0], method="step")
    params = {"params": jax.tree.map(jnp.asarray, _from_torch(torch_weights))}
    assert jax.tree.structure(params) == jax.tree.structure(init)
    for ours, theirs in zip(jax.tree.leaves(params), jax.tree.leaves(init), strict=True):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    for name, value in _to_torch(params["params"]).items():  # the two maps are inverses
        np.testing.assert_array_equal(value, torch_weights[name], err_msg=name)

    step = jax.jit(functools.partial(agent.apply, method="step"))
    logits, values, recorded, carries = [], [], [], []
    for s in range(obs.shape[0]):
        carries.append(carry)
        carry, step_logits, step_values = step(params, carry, obs[s], resets[s])
        logits.append(step_logits)
        values.append(step_values)
        recorded.append(agent.recorded(carry))  # the trxl spec's recorded_step
    acting = {
        "logits": np.stack(logits),
        "values": np.stack(values),
        "recorded": jnp.stack(recorded),
        "carry0": carries[FIRST_ROLLOUT],  # the memory at the learned rollout's start
    }
    return g, agent, params, acting


def test_positional_encoding_is_cleanrls_table():
    g, *_ = _golden()
    pe = episode_position_encoding(jnp.arange(HORIZON), DIM, HORIZON)
    np.testing.assert_allclose(pe, g["pe_table"], rtol=0, atol=1e-6)


def test_acting_step_by_step():
    """Logits, values and stored layer inputs of every acting step (episode starts at step 0,
    inside both rollouts, windows sliding past 4 steps)."""
    g, _, _, acting = _golden()
    for s in range(g["obs"].shape[0]):
        _close(acting["logits"][s], g["act_logits"][s], f"acting logits, step {s}")
        _close(acting["values"][s], g["act_values"][s], f"acting values, step {s}")
        _close(acting["recorded"][s], g["recorded"][s], f"stored layer inputs, step {s}")


def test_learning_pass_with_recorded_layer_inputs():
    """``sequence(..., recorded=...)`` over the second rollout equals CleanRL's learner.

    At an episode's first step CleanRL's learner (not its actor) averages the values of the
    stored memories of episode steps 0..3 (acted later), where engram keeps the actor's value
    (empty window slots): there engram's learning pass must equal the acting one, and the file
    shows CleanRL's learner differing from its own actor (by 0.06 in the logits)."""
    g, agent, params, acting = _golden()
    sl = slice(FIRST_ROLLOUT, None)
    learn = jax.jit(lambda p, c, o, r, rec: agent.apply(p, c, o, r, recorded=rec)[1:])
    logits, values = learn(
        params, acting["carry0"], jnp.asarray(g["obs"][sl]), jnp.asarray(g["reset"][sl]),
        acting["recorded"][sl],
    )  # fmt: skip
    keep = g["loss_mask"]
    _close(np.asarray(logits)[keep], g["learn_logits"][keep], "learning logits")
    _close(np.asarray(values)[keep], g["learn_values"][keep], "learning values")
    first = ~keep
    assert first.sum() == 2  # environment 0 at the rollout start, environment 1 inside it
    _close(np.asarray(logits)[first], g["act_logits"][sl][first], "learning = acting, t = 0")
    _close(np.asarray(values)[first], g["act_values"][sl][first], "learning = acting, t = 0")
    quirk = np.abs(g["learn_logits"][first] - g["act_logits"][sl][first]).max()
    assert quirk > 1e-3, "CleanRL's learner should differ from its actor at t = 0"


def test_loss_and_gradients():
    """CleanRL's PPO loss on the minibatch of the rollout's samples but the episodes' first
    steps (per-component ratio clipping, clipped value loss with vf_coef 0.5, summed entropy),
    and its gradient with respect to every parameter."""
    g, agent, params, acting = _golden()
    sl = slice(FIRST_ROLLOUT, None)
    obs, resets = jnp.asarray(g["obs"][sl]), jnp.asarray(g["reset"][sl])
    actions = jnp.asarray(g["actions"][sl], jnp.int32)
    mask = jnp.asarray(g["loss_mask"], jnp.float32)

    def loss_fn(p):
        _, logits, values = agent.apply(
            p, acting["carry0"], obs, resets, recorded=acting["recorded"][sl]
        )
        logp, entropy = _component_logp_entropy(logits, actions)
        return ppo_loss(
            logp, g["old_logp"], g["advantages"], values, g["old_values"], g["returns"],
            entropy, float(g["clip"]), float(g["vf_coef"]), float(g["ent_coef"]), mask=mask,
        )  # fmt: skip

    (loss, metrics), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(params)
    _close(metrics["policy_loss"], g["pg_loss"], "policy loss")
    _close(metrics["value_loss"], g["v_loss"], "value loss")
    _close(metrics["entropy"], g["entropy"], "entropy")
    _close(loss, g["loss"], "total loss")
    ours = _to_torch(grads["params"])
    theirs = {k[2:]: g[k] for k in g if k.startswith("g/")}
    assert sorted(ours) == sorted(theirs)
    for name, grad in ours.items():
        grad = as_stored(grad, name, STRIDED)
        _close(grad, theirs[name], f"gradient of {name}")
