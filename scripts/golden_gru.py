"""Golden values of neroRL's GRU actor-critic and PPO loss (the Memory Gym paper's recurrent
agent) for ``tests/models/test_gru_golden.py``.

neroRL (github.com/MarcoMeter/neroRL, commit 8dd62bdee66c2825d6fcea6fffefcdeb4f010609) is
not imported: this script rebuilds, in PyTorch, the parts that a GRU agent on image
observations uses, following these files (line numbers of that commit):

* ``neroRL/nn/encoder.py`` 27-55 (``CNNEncoder``): conv 32x8x8/4, 64x4x4/2, 64x3x3/1, ReLU
  after each, weights ``orthogonal_(gain sqrt 2)``, torch's default biases, flattened in
  torch's (C, H, W) order;
* ``neroRL/nn/recurrent.py`` 28-81 (``GRU``): ``nn.GRU(in, hidden, 1, batch_first=True)``,
  weights ``orthogonal_(gain sqrt 2)`` and biases 0; acting feeds ``(B, 1, F)``, learning
  reshapes the flat batch to ``(sequences, sequence_length, F)``; the cell state is kept
  ``(B, num_layers, hidden)`` and swapped to ``(num_layers, B, hidden)`` for ``nn.GRU``.
  ``embed: False`` (the option without the Linear + ReLU before the GRU, see below);
* ``neroRL/nn/body.py`` 28-36 (``HiddenLayer``): Linear + ReLU, ``orthogonal_(sqrt 2)``;
* ``neroRL/nn/heads.py`` 22-40 (``MultiDiscreteActionPolicy``: Linear + ReLU, then one
  Linear per action component, ``orthogonal_(sqrt 0.01)``, a ``Categorical`` each) and
  54-69 (``ValueEstimator``: Linear + ReLU, then Linear to 1, ``orthogonal_(1)``);
* ``neroRL/nn/actor_critic.py`` 79-118: encoder -> recurrent layer -> body -> heads;
* ``neroRL/environments/memory_gym_wrapper.py`` 150/191 (image ``/ 255.0``),
  ``neroRL/environments/wrappers/pytorch_shape.py`` 78-79 (HWC -> CHW);
* ``neroRL/sampler/trajectory_sampler.py`` 80-128 and ``recurrent_sampler.py`` 26-51
  (acting: the cell state before each step is stored; a finished worker's cell state is
  zeroed, ``reset_hidden_state: True``, ``hidden_state_init: "zero"``);
* ``neroRL/sampler/buffer.py`` 139-208 and 359-399 (learning: each worker's trajectory is
  split at its episode ends, ``sequence_length: -1``, i.e. one sequence per episode,
  zero-padded to the longest; each sequence starts from the stored cell state of its first
  step; ``loss_mask`` marks the unpadded steps, and old log-probs, values and advantages
  are taken unpadded in the same order);
* ``neroRL/trainers/policy_gradient/ppo_shared.py`` 131-179 (the loss): per-component
  log-probs stacked, entropies summed over components, padding removed with
  ``loss_mask``; ``advantage_normalization: "no"`` (and, as a second set of terms,
  ``"minibatch"``: ``(A - A.mean()) / (A.std() + 1e-8)``, torch's Bessel-corrected std);
  the advantage repeated per component, ``ratio = exp(logp - old_logp)``, ``policy_loss =
  min(ratio A, clamp(ratio, 1 - clip, 1 + clip) A).mean()`` (the objective, to maximise),
  ``sampled_return = old_values + advantages``, ``vf_loss = max((V - R)^2, (V_old +
  clamp(V - V_old, -clip, clip) - R)^2).mean()``, ``entropy_bonus = entropies.mean()``,
  ``loss = -(policy_loss - vf_coef * vf_loss + beta * entropy_bonus)``; approx_kl and the
  clip fraction (219-220) over every component's ratio.

What is changed from neroRL's defaults, so that engram's layout can hold the same function
(engram: CNN -> GRU -> Linear + ReLU -> policy Linear, value Linear):

* ``embed: False``: neroRL's Memory Gym configs (``configs/mortar_mayhem.yaml``,
  ``mmb_grid.yaml``) use ``embed: True``, a Linear(3136, 512) + ReLU before the GRU that
  engram does not have. Here the GRU reads the CNN features, as engram's does.
* The heads' own Linear + ReLU (``heads.py`` 22-23, 54-55, 512 wide in neroRL, not
  configurable) are kept, as wide as the body and set to the identity with zero bias: the
  body's output is a ReLU output (non-negative), so ``relu(I h + 0) = h`` and the model
  computes what engram's does. Their gradients are stored; engram has no counterpart.
* Widths: GRU 16, body 16 (neroRL's configs: 512, 512), so that the file stays small.
* Initial values: neroRL's initialisers, then the GRU's biases drawn from N(0, 0.3)
  (neroRL zeroes them; nonzero ones show where each enters, ``b_hn`` inside ``r * (...)``),
  the GRU's input weights times 4 (gates of order 1 on these frames) and the policy
  branches times 10 (logits of order 1 rather than 0.1), then every weight rounded to a
  float16 value (the file stores them as float16 and both sides use the same numbers).

The sequence: 3 environments of engram's ``MortarMayhem-v0`` (MultiDiscrete([3, 3]), so
that every component's ratio is clipped on its own), driven by fixed actions, 11 acting
steps. The first 3 steps only carry the memory forward; the last 8 are the rollout that is
learned from: environment 0 starts an episode at its first step, environment 1 at its 5th
and 7th steps (episodes of 4, 2 and 2 steps in the rollout; the first continues from the
earlier steps), environment 2 continues one episode throughout (nonzero initial state).
Episode starts are forced by resetting the environment (a plan, not the game's own ends).

Regenerate (two steps; the second with torch 2.13.0 CPU and numpy):

    python scripts/golden_gru.py inputs /tmp/gru_inputs.npz        # engram's venv
    /work/torch/bin/python scripts/golden_gru.py golden /tmp/gru_inputs.npz \\
        tests/models/data/gru_golden.npz

The file (float32 unless noted; time-major: ``(S, N, ...)`` with ``S = 11`` acting steps,
``N = 3`` environments, ``(T, N, ...)`` with ``T = 8`` for the learned rollout, the acting
steps ``WARMUP = 3 ..``):

* ``obs`` uint8 ``(S, N, 84, 84, 3)``; ``reset`` bool ``(S, N)`` (the step starts an
  episode); ``actions`` int64 ``(S, N, 2)``;
* ``act_logits`` ``(S, N, 6)`` (the two branches' outputs concatenated, before
  ``Categorical`` shifts them to log-probabilities), ``act_values``
  ``(S, N)``, ``act_logp`` ``(S, N, 2)``, ``act_hxs`` ``(S, N, 16)`` (the GRU state after
  each step);
* ``learn_logits`` ``(T, N, 6)``, ``learn_values`` ``(T, N)``, ``learn_entropy`` ``(T, N)``:
  neroRL's learning pass over the padded episode sequences, put back in place;
* ``old_logp`` ``(T, N, 2)``, ``old_values``, ``advantages``, ``returns`` ``(T, N)``
  (``returns = old_values + advantages``, as neroRL forms them); scalars ``clip``,
  ``vf_coef``, ``ent_coef``, ``policy_objective`` (neroRL's ``policy_loss``, the clipped
  surrogate to maximise), ``vf_loss``, ``entropy``, ``loss``, ``approx_kl``,
  ``clip_fraction``, and ``policy_objective_norm``, ``loss_norm`` with minibatch advantage
  normalisation;
* ``w/<neroRL parameter name>`` float16: every parameter; ``g/<name>``: the gradient of
  ``loss`` (for the names in ``STRIDED`` only every ``golden_io.GRAD_STRIDE``-th element of the
  flattened tensor, to keep the file small);
* ``warmup`` int; ``nerorl_commit``, ``torch_version`` (strings).
"""

from __future__ import annotations

import sys

import numpy as np
from golden_io import run, save_golden

ENV_ID = "MortarMayhem-v0"
ACTION_DIMS = (3, 3)
GRU_HIDDEN, BODY_HIDDEN = 16, 16
N_ENVS, WARMUP, ROLLOUT = 3, 3, 8
STEPS = WARMUP + ROLLOUT
SEED = 11
CLIP, VF_COEF, ENT_COEF = 0.1, 0.5, 0.05
STRIDED = (
    "vis_encoder.conv1.weight",
    "vis_encoder.conv2.weight",
    "vis_encoder.conv3.weight",
    "recurrent_layer.recurrent_layer.weight_ih_l0",
)
NERORL_COMMIT = "8dd62bdee66c2825d6fcea6fffefcdeb4f010609"
# (acting step, environment) pairs that start an episode, besides every environment's step 0.
EPISODE_STARTS = ((WARMUP, 0), (WARMUP + 4, 1), (WARMUP + 6, 1))


def episode_starts() -> np.ndarray:
    """bool ``(STEPS, N_ENVS)``: True where the step's observation starts an episode."""
    reset = np.zeros((STEPS, N_ENVS), bool)
    reset[0] = True
    for step, env in EPISODE_STARTS:
        reset[step, env] = True
    return reset


def write_inputs(path: str) -> None:
    """Frames of engram's MortarMayhem-v0 for the plan of episodes, and the fixed actions
    that drive it (engram's venv)."""
    import jax

    import engram

    env, params = engram.make(ENV_ID)
    assert tuple(env.action_space.nvec) == ACTION_DIMS
    reset_fn, step_fn = jax.jit(env.reset), jax.jit(env.step)
    reset = episode_starts()
    actions = np.random.default_rng(SEED).integers(0, 3, (STEPS, N_ENVS, len(ACTION_DIMS)))
    frames = np.zeros((STEPS, N_ENVS, 84, 84, 3), np.uint8)
    key = jax.random.key(SEED)
    for e in range(N_ENVS):
        state = None
        for s in range(STEPS):
            key, sub = jax.random.split(key)
            if reset[s, e]:
                obs, state = reset_fn(sub, params)
            frames[s, e] = np.asarray(obs)
            key, sub = jax.random.split(key)
            obs, state, _, terminated, truncated, _ = step_fn(sub, state, actions[s, e], params)
            if (terminated or truncated) and s + 1 < STEPS and not reset[s + 1, e]:
                raise RuntimeError(f"environment {e} ended at step {s}: not in the plan")
    np.savez_compressed(path, obs=frames, reset=reset, actions=actions)


def _build_model():
    """neroRL's shared-weights GRU actor-critic (the files in the module docstring)."""
    import torch
    from torch import nn
    from torch.distributions import Categorical

    gain = np.sqrt(2)

    class CNNEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, kernel_size=8, stride=4, padding=0)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=0)
            self.conv3 = nn.Conv2d(64, 64, kernel_size=3, stride=1, padding=0)
            for conv in (self.conv1, self.conv2, self.conv3):
                nn.init.orthogonal_(conv.weight, gain)
            self.out_size = 64 * 7 * 7

        def forward(self, x):
            x = torch.relu(self.conv1(x))
            x = torch.relu(self.conv2(x))
            x = torch.relu(self.conv3(x))
            return x.reshape((-1, self.out_size))

    class GRU(nn.Module):
        def __init__(self, in_features, hidden):
            super().__init__()
            self.recurrent_layer = nn.GRU(in_features, hidden, 1, batch_first=True)
            for name, p in self.recurrent_layer.named_parameters():
                if "bias" in name:
                    nn.init.constant_(p, 0)
                else:
                    nn.init.orthogonal_(p, gain)

        def forward(self, h, cell, sequence_length):
            cell = cell.swapaxes(0, 1).contiguous()  # (B, layers, H) -> (layers, B, H)
            if sequence_length == 1:
                h, cell = self.recurrent_layer(h.unsqueeze(1), cell)
                h = h.squeeze(1)
            else:
                h = h.reshape(h.shape[0] // sequence_length, sequence_length, h.shape[1])
                h, cell = self.recurrent_layer(h, cell)
                h = h.reshape(h.shape[0] * h.shape[1], h.shape[2])
            return h, cell.swapaxes(0, 1)

    class HiddenLayer(nn.Module):
        def __init__(self, in_features, out_features):
            super().__init__()
            linear = nn.Linear(in_features, out_features)
            nn.init.orthogonal_(linear.weight, gain)
            self.hidden_layer = nn.Sequential(linear, nn.ReLU())

        def forward(self, h):
            return self.hidden_layer(h)

    class MultiDiscreteActionPolicy(nn.Module):
        def __init__(self, in_features, width, dims):
            super().__init__()
            self.linear = nn.Linear(in_features, width)
            nn.init.orthogonal_(self.linear.weight, gain)
            self.policy_branches = nn.ModuleList()
            for n in dims:
                branch = nn.Linear(width, n)
                nn.init.orthogonal_(branch.weight, np.sqrt(0.01))
                self.policy_branches.append(branch)

        def forward(self, h):
            h = torch.relu(self.linear(h))
            self.raw_logits = [branch(h) for branch in self.policy_branches]  # for the file
            return [Categorical(logits=x) for x in self.raw_logits]

    class ValueEstimator(nn.Module):
        def __init__(self, in_features, width):
            super().__init__()
            self.linear = nn.Linear(in_features, width)
            nn.init.orthogonal_(self.linear.weight, gain)
            self.value = nn.Linear(width, 1)
            nn.init.orthogonal_(self.value.weight, 1)

        def forward(self, h):
            return self.value(torch.relu(self.linear(h))).reshape(-1)

    class ActorCriticSharedWeights(nn.Module):
        def __init__(self):
            super().__init__()
            self.vis_encoder = CNNEncoder()
            self.recurrent_layer = GRU(self.vis_encoder.out_size, GRU_HIDDEN)
            self.body = HiddenLayer(GRU_HIDDEN, BODY_HIDDEN)
            self.actor_policy = MultiDiscreteActionPolicy(BODY_HIDDEN, BODY_HIDDEN, ACTION_DIMS)
            self.critic = ValueEstimator(BODY_HIDDEN, BODY_HIDDEN)

        def forward(self, vis_obs, memory, sequence_length=1):
            h = self.vis_encoder(vis_obs)
            h, memory = self.recurrent_layer(h, memory, sequence_length)
            h = self.body(h)
            return self.actor_policy(h), self.critic(h), memory

    return ActorCriticSharedWeights()


def _golden_weights(model, torch) -> None:
    """The changes from neroRL's initial values listed in the module docstring."""
    gen = torch.Generator().manual_seed(SEED + 1)
    gru = model.recurrent_layer.recurrent_layer
    with torch.no_grad():
        for bias in (gru.bias_ih_l0, gru.bias_hh_l0):
            bias.copy_(0.3 * torch.randn(bias.shape, generator=gen))
        gru.weight_ih_l0.mul_(4.0)
        for branch in model.actor_policy.policy_branches:
            branch.weight.mul_(10.0)
        for head in (model.actor_policy.linear, model.critic.linear):
            head.weight.copy_(torch.eye(BODY_HIDDEN))
            head.bias.zero_()
        for p in model.parameters():
            p.copy_(p.half().float())


def _images(obs_uint8, torch):
    """neroRL's image input: ``/ 255.0`` in float64 (the wrapper), HWC -> CHW, float32."""
    x = np.asarray(obs_uint8) / 255.0
    x = np.swapaxes(np.swapaxes(x, -3, -1), -1, -2)
    return torch.from_numpy(x.astype(np.float32))


def _log_probs(policy, actions, torch):
    """float32 ``(B, K)``: each branch's log-probability of its action (``actions`` ``(B, K)``),
    stacked as ``ppo_shared.py`` 139-143 does."""
    return torch.stack([p.log_prob(actions[:, i]) for i, p in enumerate(policy)], 1)


def write_golden(inputs_path: str, out_path: str) -> None:
    """Run the model as neroRL's sampler and trainer do; save the golden file (torch)."""
    import torch

    torch.set_num_threads(1)
    inputs = np.load(inputs_path)
    obs, reset, actions = inputs["obs"], inputs["reset"], inputs["actions"]
    actions_t = torch.from_numpy(actions)
    torch.manual_seed(SEED)
    model = _build_model()
    _golden_weights(model, torch)
    k = len(ACTION_DIMS)

    # Acting (the sampler): store the cell state before each step, zero it at episode starts.
    cell = torch.zeros((N_ENVS, 1, GRU_HIDDEN))
    stored_cell = torch.zeros((N_ENVS, STEPS, 1, GRU_HIDDEN))
    act = {key: [] for key in ("logits", "values", "logp", "hxs")}
    with torch.no_grad():
        for s in range(STEPS):
            for e in range(N_ENVS):
                if reset[s, e]:
                    cell[e] = 0.0
            stored_cell[:, s] = cell
            policy, value, cell = model(_images(obs[s], torch), cell)
            act["logits"].append(torch.cat(model.actor_policy.raw_logits, -1))
            act["values"].append(value)
            act["logp"].append(_log_probs(policy, actions_t[s], torch))
            act["hxs"].append(cell[:, 0].clone())  # the reset below works in place
    act = {key: torch.stack(v) for key, v in act.items()}  # (S, N, ...)

    # The rollout in neroRL's buffer layout: worker-major (N, T, ...).
    rollout = slice(WARMUP, STEPS)
    T = ROLLOUT
    rng = np.random.default_rng(SEED + 2)
    act_logp = act["logp"][rollout].transpose(0, 1)
    act_values = act["values"][rollout].transpose(0, 1)
    old_logp = act_logp + torch.from_numpy(rng.normal(0, 0.1, act_logp.shape)).float()
    old_values = act_values + torch.from_numpy(rng.normal(0, 0.15, act_values.shape)).float()
    advantages = torch.from_numpy(rng.normal(0, 1, act_values.shape)).float()
    dones = np.zeros((N_ENVS, T), bool)  # the step ends an episode
    dones[:, :-1] = reset[WARMUP + 1 :].T

    # prepare_batch_dict: split each worker's trajectory into episodes, pad with zeros.
    buffer = {
        "vis_obs": _images(obs[rollout], torch).transpose(0, 1),
        "actions": actions_t[rollout].transpose(0, 1),
        "hxs": stored_cell[:, rollout],
        "loss_mask": torch.ones((N_ENVS, T), dtype=torch.bool),
    }
    spans = []  # (worker, first step, last step) of each sequence
    for w in range(N_ENVS):
        ends = list(np.nonzero(dones[w])[0])
        if not ends or ends[-1] != T - 1:
            ends.append(T - 1)
        start = 0
        for end in ends:
            spans.append((w, start, end))
            start = end + 1
    longest = max(end - start + 1 for _, start, end in spans)

    def pad(x):
        fill = torch.zeros((longest - len(x),) + x.shape[1:], dtype=x.dtype)
        return torch.cat([x, fill], 0)

    batch = {
        key: torch.stack([pad(v[w, start : end + 1]) for w, start, end in spans])
        for key, v in buffer.items()
    }
    batch["hxs"] = batch["hxs"][:, 0]  # each sequence's first stored cell state
    flat = {key: v.reshape((-1,) + v.shape[2:]) for key, v in batch.items() if key != "hxs"}
    unpadded = [w * T + t for w, start, end in spans for t in range(start, end + 1)]
    samples_old_logp = old_logp.reshape(-1, k)[unpadded]
    samples_values = old_values.reshape(-1)[unpadded]
    samples_advantages = advantages.reshape(-1)[unpadded]

    # train_mini_batch: every sequence in one minibatch.
    policy, value, _ = model(flat["vis_obs"], batch["hxs"], sequence_length=longest)
    log_probs = _log_probs(policy, flat["actions"], torch)
    entropies = torch.stack([p.entropy() for p in policy], 1).sum(1).reshape(-1)
    logits = torch.cat(model.actor_policy.raw_logits, -1)
    mask = flat["loss_mask"]
    value, log_probs, entropies, logits = (x[mask] for x in (value, log_probs, entropies, logits))

    def surrogate(adv):
        adv = adv.unsqueeze(1).repeat(1, k)
        log_ratio = log_probs - samples_old_logp
        ratio = torch.exp(log_ratio)
        surr1 = ratio * adv
        surr2 = torch.clamp(ratio, 1.0 - CLIP, 1.0 + CLIP) * adv
        return torch.min(surr1, surr2).mean(), ratio, log_ratio

    policy_loss, ratio, log_ratio = surrogate(samples_advantages)
    sampled_return = samples_values + samples_advantages
    clipped_value = samples_values + (value - samples_values).clamp(min=-CLIP, max=CLIP)
    vf_loss = torch.max((value - sampled_return) ** 2, (clipped_value - sampled_return) ** 2)
    vf_loss = vf_loss.mean()
    entropy_bonus = entropies.mean()
    loss = -(policy_loss - VF_COEF * vf_loss + ENT_COEF * entropy_bonus)
    approx_kl = ((ratio - 1.0) - log_ratio).mean()
    clip_fraction = (abs(ratio - 1.0) > CLIP).float().mean()
    with torch.no_grad():
        a = samples_advantages
        policy_loss_norm, _, _ = surrogate((a - a.mean()) / (a.std() + 1e-8))
        loss_norm = -(policy_loss_norm - VF_COEF * vf_loss + ENT_COEF * entropy_bonus)
    margin = (abs(ratio - 1.0) - CLIP).abs().min().item()
    if margin < 1e-4:  # a ratio at the clip boundary would make clip_fraction fragile
        raise RuntimeError(f"a ratio is {margin} from the clip boundary")
    model.zero_grad()
    loss.backward()

    def in_place(x):
        """Unpadded neroRL order -> time-major ``(T, N, ...)``."""
        out = torch.zeros((N_ENVS * T,) + x.shape[1:])
        out[unpadded] = x.detach()
        return out.reshape((N_ENVS, T) + x.shape[1:]).transpose(0, 1).numpy()

    def time_major(x):
        return x.transpose(0, 1).numpy()

    out = {
        "obs": obs,
        "reset": reset,
        "actions": actions,
        "act_logits": act["logits"].numpy(),
        "act_values": act["values"].numpy(),
        "act_logp": act["logp"].numpy(),
        "act_hxs": act["hxs"].numpy(),
        "learn_logits": in_place(logits),
        "learn_values": in_place(value),
        "learn_entropy": in_place(entropies),
        "old_logp": time_major(old_logp),
        "old_values": time_major(old_values),
        "advantages": time_major(advantages),
        "returns": time_major(old_values + advantages),
        "clip": np.float32(CLIP),
        "vf_coef": np.float32(VF_COEF),
        "ent_coef": np.float32(ENT_COEF),
        "policy_objective": policy_loss.detach().numpy(),
        "vf_loss": vf_loss.detach().numpy(),
        "entropy": entropy_bonus.detach().numpy(),
        "loss": loss.detach().numpy(),
        "approx_kl": approx_kl.detach().numpy(),
        "clip_fraction": clip_fraction.numpy(),
        "policy_objective_norm": policy_loss_norm.numpy(),
        "loss_norm": loss_norm.numpy(),
        "warmup": np.int64(WARMUP),
        "nerorl_commit": np.array(NERORL_COMMIT),
        "torch_version": np.array(torch.__version__),
    }
    save_golden(out_path, out, model.named_parameters(), STRIDED)


if __name__ == "__main__":
    run(sys.argv[1:], __doc__, write_inputs, write_golden, golden_args=2)
