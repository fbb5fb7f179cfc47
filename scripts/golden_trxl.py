"""Golden values of CleanRL's ``ppo_trxl`` agent (the Memory Gym paper's Transformer-XL) for
``tests/models/test_trxl_golden.py``.

CleanRL's own ``cleanrl/ppo_trxl/ppo_trxl.py`` is imported at run time (its ``Agent``,
``PositionalEncoding`` and ``batched_index_select``; the packages it imports at the top that
are not installed, e.g. ``memory_gym``, ``minigrid``, ``pom_env``, ``tyro``, ``gymnasium``,
TensorBoard, are replaced by empty stand-ins: the agent never uses them). This script drives
it the way CleanRL's training loop does (episodic memory buffers, the sliding windows
``memory_indices``, the masks ``tril(ones(L, L), -1)``, storing each step's layer inputs,
resetting at episode ends, the learner gathering windows of the stored memories) and
computes CleanRL's PPO loss terms and the gradients of the total loss.

Setting: a 2-layer, 32-wide, 2-head Transformer-XL with a window of 4 steps,
``max_episode_steps = 119`` (MortarMayhem-Grid-v0's cap), 84x84x3 images, MultiDiscrete([3, 3])
actions; 3 environments, a first rollout of 5 steps, then the rollout of 12 steps that is
learned from. Environment 0 starts a new episode at the second rollout's first step,
environment 1 ends its episode inside it (after 12 steps: past the window), environment 2
carries its episode through both rollouts. The observations are real frames of engram's
``MortarMayhem-Grid-v0`` (fixed actions; the episode boundaries are the plan above). The
weights are torch's seeded initialisation, with the query/key projections doubled (sharper
attention, so that which keys are attended shows) and the actor branches ten times larger
(logits of order 1; the initial gain 0.1 gives logits of order 0.1), rounded to float16
values (so the file stores them in half the bytes and both sides use the same numbers).

Regenerate (two steps; torch 2.13.0 CPU with numpy and einops):

    git -C <cleanrl checkout> show HEAD:cleanrl/ppo_trxl/ppo_trxl.py > /tmp/ppo_trxl.py
    python scripts/golden_trxl.py inputs /tmp/trxl_inputs.npz        # engram's venv
    /work/torch/bin/python scripts/golden_trxl.py golden /tmp/ppo_trxl.py \\
        /tmp/trxl_inputs.npz tests/models/data/trxl_cleanrl_golden.npz

The file (float32 unless noted, time-major ``(S, N, ...)`` with ``S = 17`` acting steps
and ``N = 3`` environments, ``(T, N, ...)`` with ``T = 12`` for the learned rollout):

* ``obs`` uint8 ``(S, N, 84, 84, 3)``; ``reset`` bool ``(S, N)`` (the step starts an
  episode); ``episode_step`` int64 ``(S, N)``; ``actions`` int64 ``(S, N, 2)``;
* ``act_logits`` ``(S, N, 6)`` (the two branches' logits concatenated), ``act_values``
  ``(S, N)``, ``act_logp`` ``(S, N, 2)``, ``recorded`` ``(S, N, 2, 32)`` (the layer inputs
  stored while acting);
* ``learn_logits`` ``(T, N, 6)``, ``learn_values`` ``(T, N)``: CleanRL's learning pass over
  the second rollout with the stored memories;
* ``old_logp`` ``(T, N, 2)``, ``old_values``, ``advantages``, ``returns`` ``(T, N)``,
  ``loss_mask`` bool ``(T, N)`` (the minibatch: every sample but the episodes' first steps),
  scalars ``clip``, ``vf_coef``, ``ent_coef``, ``pg_loss``, ``v_loss``, ``entropy``, ``loss``;
* ``w/<torch name>`` float16: every parameter; ``g/<torch name>``: the gradient of ``loss``
  (for ``encoder.2.weight``, ``encoder.4.weight`` and ``encoder.7.weight`` only every
  ``golden_io.GRAD_STRIDE``-th element of the flattened tensor, to keep the file small);
* ``pe_table`` ``(119, 32)``: CleanRL's positional-encoding table; ``cleanrl_sha256``,
  ``torch_version`` (strings).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
from golden_io import run, save_golden

ENV_ID = "MortarMayhem-Grid-v0"
MAX_EPISODE_STEPS = 119  # MortarMayhem-Grid-v0's episode cap
NUM_LAYERS, DIM, NUM_HEADS, MEMORY_LENGTH = 2, 32, 2, 4
ACTION_DIMS = (3, 3)
N_ENVS, FIRST_ROLLOUT, ROLLOUT = 3, 5, 12
STEPS = FIRST_ROLLOUT + ROLLOUT
SEED = 7
CLIP, VF_COEF, ENT_COEF = 0.1, 0.5, 0.05
STRIDED = ("encoder.2.weight", "encoder.4.weight", "encoder.7.weight")
# (acting step, environment) pairs whose episode ends with that step.
EPISODE_ENDS = ((FIRST_ROLLOUT - 1, 0), (FIRST_ROLLOUT + 6, 1))


def episode_ends() -> np.ndarray:
    """bool ``(STEPS, N_ENVS)``: True where an episode ends with the step."""
    done = np.zeros((STEPS, N_ENVS), bool)
    for step, env in EPISODE_ENDS:
        done[step, env] = True
    return done


def write_inputs(path: str) -> None:
    """Frames of engram's MortarMayhem-Grid-v0 for the plan of episodes (engram's venv)."""
    import jax

    import engram

    env, params = engram.make(ENV_ID)
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    done = episode_ends()
    frames = np.zeros((STEPS, N_ENVS, 84, 84, 3), np.uint8)
    key = jax.random.key(SEED)
    for e in range(N_ENVS):
        key, sub = jax.random.split(key)
        obs, state = reset(sub, params)
        for s in range(STEPS):
            frames[s, e] = np.asarray(obs)
            key, sub = jax.random.split(key)
            if done[s, e]:
                obs, state = reset(sub, params)
                continue
            obs, state, _, terminated, truncated, _ = step(sub, state, (s + e) % 4, params)
            if terminated or truncated:  # not in the plan: keep the frame, go on afresh
                key, sub = jax.random.split(key)
                _, state = reset(sub, params)
    np.savez_compressed(path, obs=frames)


def _load_cleanrl(path: str):
    """CleanRL's ``ppo_trxl.py`` as a module, with stand-ins for absent imports."""
    stand_ins = {
        "memory_gym": {},
        "minigrid": {},
        "minigrid.wrappers": {"ImgObsWrapper": None, "RGBImgPartialObsWrapper": None},
        "pom_env": {"PoMEnv": None},
        "tyro": {"cli": None},
        "gymnasium": {},
        "torch.utils.tensorboard": {"SummaryWriter": None},
    }
    for name, attrs in stand_ins.items():
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            for attr, value in attrs.items():
                setattr(module, attr, value)
            sys.modules[name] = module
    spec = importlib.util.spec_from_file_location("cleanrl_ppo_trxl", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_golden(cleanrl_path: str, inputs_path: str, out_path: str) -> None:
    """Run CleanRL's agent as its training loop does and save the golden file (torch)."""
    import torch

    torch.set_num_threads(1)
    cleanrl = _load_cleanrl(cleanrl_path)
    select = cleanrl.batched_index_select
    obs_all = torch.from_numpy(np.load(inputs_path)["obs"]).float()  # (S, N, 84, 84, 3)
    done_plan = episode_ends()
    rng = np.random.default_rng(SEED)
    actions_all = torch.from_numpy(rng.integers(0, 3, (STEPS, N_ENVS, 2)))

    args = cleanrl.Args(
        trxl_num_layers=NUM_LAYERS,
        trxl_num_heads=NUM_HEADS,
        trxl_dim=DIM,
        trxl_memory_length=MEMORY_LENGTH,
        trxl_positional_encoding="absolute",
    )
    torch.manual_seed(SEED)
    space = types.SimpleNamespace(shape=(84, 84, 3))
    agent = cleanrl.Agent(args, space, ACTION_DIMS, MAX_EPISODE_STEPS)
    with torch.no_grad():
        for layer in agent.transformer.transformer_layers:
            layer.attention.queries.weight.mul_(2.0)
            layer.attention.keys.weight.mul_(2.0)
        for branch in agent.actor_branches:  # logits of order 1 rather than 0.1
            branch.weight.mul_(10.0)
        for p in agent.parameters():
            p.copy_(p.half().float())

    def logits_of(x):
        return torch.cat([branch(x) for branch in agent.actor_branches], -1)

    # CleanRL's acting state: episodic memories, masks and window indices.
    L, H = MEMORY_LENGTH, MAX_EPISODE_STEPS
    next_memory = torch.zeros((N_ENVS, H, NUM_LAYERS, DIM))
    memory_mask = torch.tril(torch.ones((L, L)), diagonal=-1)
    memory_indices = torch.cat(
        [
            torch.arange(0, L).unsqueeze(0).repeat(L - 1, 1),
            torch.stack([torch.arange(i, i + L) for i in range(H - L + 1)]),
        ]
    ).long()
    episode_step = torch.zeros(N_ENVS, dtype=torch.long)
    env_ids = torch.arange(N_ENVS)

    record = {k: [] for k in ("logits", "values", "logp", "recorded", "episode_step")}
    rollout = {}
    for start, length in ((0, FIRST_ROLLOUT), (FIRST_ROLLOUT, ROLLOUT)):
        stored_memories = [next_memory[e] for e in range(N_ENVS)]
        stored_index = torch.arange(N_ENVS).repeat(length, 1)
        stored_masks = torch.zeros((length, N_ENVS, L), dtype=torch.bool)
        stored_indices = torch.zeros((length, N_ENVS, L), dtype=torch.long)
        for step in range(length):
            s = start + step
            with torch.no_grad():
                stored_masks[step] = memory_mask[torch.clip(episode_step, 0, L - 1)]
                stored_indices[step] = memory_indices[episode_step]
                window = select(next_memory, 1, stored_indices[step])
                _, logp, _, value, new_memory = agent.get_action_and_value(
                    obs_all[s], window, stored_masks[step], stored_indices[step], actions_all[s]
                )
                record["logits"].append(logits_of(agent.x))
                next_memory[env_ids, episode_step] = new_memory
            record["values"].append(value)
            record["logp"].append(logp)
            record["recorded"].append(new_memory)
            record["episode_step"].append(episode_step.clone())
            for e in range(N_ENVS):
                if done_plan[s, e]:
                    episode_step[e] = 0
                    index = stored_index[step, e]
                    stored_memories[index] = stored_memories[index].clone()
                    next_memory[e] = torch.zeros((H, NUM_LAYERS, DIM))
                    if step < length - 1:
                        stored_memories.append(next_memory[e])
                        stored_index[step + 1 :, e] = len(stored_memories) - 1
                else:
                    episode_step[e] += 1
        rollout = dict(
            memories=torch.stack(stored_memories),
            index=stored_index,
            masks=stored_masks,
            indices=stored_indices,
        )

    # CleanRL's learner on the second rollout, every sample at once (flattened step-major).
    T = ROLLOUT
    b_obs = obs_all[FIRST_ROLLOUT:].reshape(T * N_ENVS, 84, 84, 3)
    b_actions = actions_all[FIRST_ROLLOUT:].reshape(T * N_ENVS, 2)
    b_index = rollout["index"].reshape(-1)
    b_indices = rollout["indices"].reshape(T * N_ENVS, L)
    b_mask = rollout["masks"].reshape(T * N_ENVS, L)
    memories = rollout["memories"]
    used = (rollout["indices"] * rollout["masks"]).max().item() + 1
    if used < L:  # CleanRL trims the padding of short episodes
        b_indices, b_mask, memories = b_indices[:, :used], b_mask[:, :used], memories[:, :used]

    def learn(inds):
        windows = select(memories[b_index[inds]], 1, b_indices[inds])
        return agent.get_action_and_value(
            b_obs[inds], windows, b_mask[inds], b_indices[inds], b_actions[inds]
        )

    with torch.no_grad():
        _, _, _, learn_values, _ = learn(torch.arange(T * N_ENVS))
        learn_logits = logits_of(agent.x)

    # Fixed loss inputs around the acting values (ratios and value changes on both sides
    # of the clip range).
    act_logp = torch.stack(record["logp"])[FIRST_ROLLOUT:]
    act_values = torch.stack(record["values"])[FIRST_ROLLOUT:]
    old_logp = act_logp + torch.from_numpy(rng.normal(0, 0.1, act_logp.shape)).float()
    old_values = act_values + torch.from_numpy(rng.normal(0, 0.15, act_values.shape)).float()
    advantages = torch.from_numpy(rng.normal(0, 1, act_values.shape)).float()
    returns = old_values + torch.from_numpy(rng.normal(0, 1, act_values.shape)).float()
    loss_mask = torch.stack(record["episode_step"])[FIRST_ROLLOUT:] > 0
    mb_inds = torch.nonzero(loss_mask.reshape(-1)).flatten()

    # CleanRL's PPO loss on that minibatch (per-component ratios, clipped value loss).
    _, newlogprob, entropy, newvalue, _ = learn(mb_inds)
    mb_adv = advantages.reshape(-1)[mb_inds].unsqueeze(1).repeat(1, len(ACTION_DIMS))
    ratio = torch.exp(newlogprob - old_logp.reshape(-1, 2)[mb_inds])
    pg_loss = torch.max(-mb_adv * ratio, -mb_adv * torch.clamp(ratio, 1 - CLIP, 1 + CLIP)).mean()
    mb_returns, mb_values = returns.reshape(-1)[mb_inds], old_values.reshape(-1)[mb_inds]
    v_unclipped = (newvalue - mb_returns) ** 2
    v_clipped = mb_values + (newvalue - mb_values).clamp(min=-CLIP, max=CLIP)
    v_loss = torch.max(v_unclipped, (v_clipped - mb_returns) ** 2).mean()
    entropy_loss = entropy.mean()
    loss = pg_loss - ENT_COEF * entropy_loss + v_loss * VF_COEF
    agent.zero_grad()
    loss.backward()

    out = {
        "obs": obs_all.numpy().astype(np.uint8),
        "reset": np.concatenate([np.ones((1, N_ENVS), bool), done_plan[:-1]]),
        "episode_step": torch.stack(record["episode_step"]).numpy(),
        "actions": actions_all.numpy(),
        "act_logits": torch.stack(record["logits"]).numpy(),
        "act_values": torch.stack(record["values"]).numpy(),
        "act_logp": torch.stack(record["logp"]).numpy(),
        "recorded": torch.stack(record["recorded"]).numpy(),
        "learn_logits": learn_logits.reshape(T, N_ENVS, -1).numpy(),
        "learn_values": learn_values.reshape(T, N_ENVS).numpy(),
        "old_logp": old_logp.numpy(),
        "old_values": old_values.numpy(),
        "advantages": advantages.numpy(),
        "returns": returns.numpy(),
        "loss_mask": loss_mask.numpy(),
        "clip": np.float32(CLIP),
        "vf_coef": np.float32(VF_COEF),
        "ent_coef": np.float32(ENT_COEF),
        "pg_loss": pg_loss.detach().numpy(),
        "v_loss": v_loss.detach().numpy(),
        "entropy": entropy_loss.detach().numpy(),
        "loss": loss.detach().numpy(),
        "pe_table": agent.transformer.pos_embedding(H).numpy(),
        "cleanrl_sha256": np.array(hashlib.sha256(Path(cleanrl_path).read_bytes()).hexdigest()),
        "torch_version": np.array(torch.__version__),
    }
    save_golden(out_path, out, agent.named_parameters(), STRIDED)


if __name__ == "__main__":
    run(sys.argv[1:], __doc__, write_inputs, write_golden, golden_args=3)
