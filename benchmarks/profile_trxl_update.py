"""Where the time of one engram PPO update with the paper's Transformer-XL goes (issue 20): the
engram side of ``docs/profiles/trxl-vs-cleanrl.md`` (CleanRL's side:
``benchmarks/profile_cleanrl_trxl.py``).

The configuration is ``benchmarks/cleanrl_trxl.py``'s: MortarMayhem-Grid-v0, Transformer-XL
3 blocks x 384, 4 heads, window 119, 16 environments x 128 steps, 3 epochs x 8 minibatches,
advantages normalised. Three compiled programs are timed apart (median of a few calls, after
two warm-up updates): the whole ``Trainer.update``; the rollout alone
(``engram.ppo.rollout.rollout``); one minibatch's gradient + optimiser update (the loss of
``engram.ppo.loss.minibatch_loss`` on 2 environments x 128 steps of a real rollout, batch
and memory passed as arguments), which the update runs 24 times. The minibatch and rollout
programs are then traced (``jax.profiler``) and each XLA op's time is attributed to a part of
the model by its HLO ``metadata op_name`` (convolutions, input projection, attention
projections, scores/softmax, feed-forward, LayerNorms, memory bookkeeping, the environment).
XLA's cost analysis gives the minibatch's FLOPs.

Usage (the update takes about 5 minutes to compile on one core)::

    taskset -c 1 python benchmarks/profile_trxl_update.py [--trace-dir /tmp/trxl_trace]

Prints the seconds of the three programs, the minibatch's GFLOP and GFLOP/s, and for each
traced program a table: part, milliseconds per call, share of the program's op time.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import re
import shutil
import tempfile
import time

import jax
import optax
from cleanrl_trxl import PAPER_TRXL, engram_config  # this folder (run as a script)

import engram  # noqa: F401  (XLA's CPU flags, set before JAX starts)
from engram.ppo import Trainer
from engram.ppo.loss import minibatch_loss, training_batch
from engram.ppo.rollout import rollout

#: (part, pattern on the op_names of an op; the first that matches wins).
PARTS = [
    (
        "environment step (Memory Gym in JAX), sampling, storage",
        r"^(?!.*ActorCritic)(?=.*(vmap|autoreset|while/body))",
    ),
    ("CNN (convolutions, bias, ReLU)", r"Conv_\d|conv_general_dilated|encoder"),
    ("input projection (Dense 3136->384)", r"/embed/"),
    ("attention: K/V/Q projections", r"attention/(key|value|query)/"),
    ("attention: output projection", r"attention/out/"),
    ("attention: scores, mask, softmax, weighted sum", r"attention"),
    ("LayerNorms", r"norm_(q|kv|mlp)"),
    ("feed-forward", r"/mlp/"),
    ("memory bookkeeping (window, masks, positional encoding)", r"mem\.sequence|mem\.step"),
    ("hidden layer and heads", r"ActorCritic"),
    ("loss, clip + AdamW, other elementwise", r"."),
]


def median_seconds(fn, n: int) -> float:
    fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[n // 2]


def op_names(hlo: str) -> dict[str, list[str]]:
    """Each instruction of the HLO text -> the op_names it stands for: its own, those of its
    fused computation, or (none there) those of the instructions using it."""
    own, calls, inside, users = {}, {}, collections.defaultdict(list), collections.defaultdict(list)
    computation = None
    for line in hlo.splitlines():
        if not line.startswith(" ") and line.rstrip().endswith("{"):
            computation = line.split()[0].lstrip("%")
            continue
        m = re.match(r"^\s*(?:ROOT )?%?([\w.\-]+) = ", line)
        if not m:
            continue
        name, body = m.group(1), line.split(" = ", 1)[1]
        meta = re.search(r'op_name="([^"]*)"', line)
        own[name] = [meta.group(1)] if meta else []
        if meta:
            inside[computation].append(meta.group(1))
        called = re.search(r"calls=%?([\w.\-]+)", line)
        if called:
            calls[name] = called.group(1)
        for operand in re.findall(r"%([\w.\-]+)[,)]", body.split("metadata")[0]):
            users[operand].append(name)

    def names(inst: str, depth: int = 0) -> list[str]:
        out = own.get(inst, []) + inside.get(calls.get(inst, ""), [])
        if not out and depth < 2:
            for user in users.get(inst, []):
                out += names(user, depth + 1)
        return out

    return {inst: names(inst) for inst in own}


def traced_parts(fn, compiled, trace_dir: str, calls: int) -> tuple[dict, float]:
    """Milliseconds per call of each part (PARTS) of ``compiled`` run by ``fn``, and the total."""
    shutil.rmtree(trace_dir, ignore_errors=True)
    jax.profiler.start_trace(trace_dir)
    for _ in range(calls):
        fn()
    jax.profiler.stop_trace()
    path = glob.glob(f"{trace_dir}/**/*.trace.json.gz", recursive=True)[0]
    with gzip.open(path) as f:
        events = json.load(f)["traceEvents"]
    names = op_names(compiled.as_text())
    parts = collections.Counter()
    for e in events:  # host events (Python, the executor) have no HLO instruction: left out
        if e.get("ph") == "X" and e["name"] in names:
            joined = " | ".join(names[e["name"]])
            part = next((p for p, rx in PARTS if re.search(rx, joined)), "unattributed")
            parts[part] += e["dur"] / 1e3 / calls
    return parts, sum(parts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace-dir", default=None, help="default: a temporary folder")
    args = parser.parse_args()
    trace_dir = args.trace_dir or tempfile.mkdtemp()
    config = engram_config(argparse.Namespace(**PAPER_TRXL, updates=3), tempfile.mkdtemp())
    trainer = Trainer(config)
    policy, tx = trainer.policy, trainer.tx
    ts = trainer.init(jax.random.key(0))
    start = time.perf_counter()
    update = trainer.update.lower(ts).compile()
    print(f"update compiled in {time.perf_counter() - start:.0f} s", flush=True)
    for _ in range(2):  # episodes under way, as in training
        ts, metrics = update(ts)
    jax.block_until_ready(metrics["loss"])
    steps = config.num_steps
    roll = jax.jit(lambda ts: rollout(policy, ts, steps)).lower(ts).compile()
    _, traj, _ = roll(ts)
    per = config.num_envs // config.num_minibatches
    # The trainer's batch (values in place of the advantages and returns: same shapes).
    batch = training_batch(traj, traj["value"], traj["value"])
    batch = jax.tree.map(lambda x: x[:, :per], batch)
    carry = jax.tree.map(lambda x: x[:per], ts.carry)

    def minibatch(params, opt_state, carry, batch, key):
        def loss(p):
            return minibatch_loss(policy, p, carry, batch, 0.01, key)

        _, grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    mb_args = (ts.params, ts.opt_state, carry, batch, jax.random.key(1))
    mb = jax.jit(minibatch).lower(*mb_args).compile()
    cost = mb.cost_analysis()
    flops = (cost[0] if isinstance(cost, list) else cost)["flops"]
    n_mb = config.num_epochs * config.num_minibatches

    t_update = median_seconds(lambda: jax.block_until_ready(update(ts)[1]["loss"]), 3)
    t_roll = median_seconds(lambda: jax.block_until_ready(roll(ts)[1]["obs"]), 3)
    t_mb = median_seconds(lambda: jax.block_until_ready(mb(*mb_args)[0]), 5)
    batch_steps = config.num_envs * steps
    rest = t_update - t_roll - n_mb * t_mb
    print(f"update            {t_update:7.2f} s  ({batch_steps / t_update:.0f} steps/s)")
    print(f"rollout           {t_roll:7.2f} s  {100 * t_roll / t_update:5.1f} %")
    print(f"{n_mb} minibatches   {n_mb * t_mb:7.2f} s  {100 * n_mb * t_mb / t_update:5.1f} %")
    print(
        f"  (one: {t_mb * 1e3:.0f} ms, {flops / 1e9:.2f} GFLOP, {flops / t_mb / 1e9:.1f} GFLOP/s)"
    )
    print(f"rest of update    {rest:7.2f} s  {100 * rest / t_update:5.1f} %", flush=True)
    for name, fn, compiled, calls in (
        ("minibatch", lambda: jax.block_until_ready(mb(*mb_args)[0]), mb, 2),
        ("rollout", lambda: jax.block_until_ready(roll(ts)[1]["obs"]), roll, 1),
    ):
        parts, total = traced_parts(fn, compiled, f"{trace_dir}/{name}", calls)
        print(f"{name}: {total:.0f} ms of XLA op time per call")
        for part, ms in parts.most_common():
            print(f"  {part:<58} {ms:8.1f} ms  {100 * ms / total:5.1f} %")


if __name__ == "__main__":
    main()
