"""Learning speed of Memo against the full-context transformer (FCT): steps/s of a learning
pass, ``jax.value_and_grad`` of a loss of the outputs of ``sequence`` with respect to the
parameters, on one chunk of ``context`` steps that starts with a reset in every environment
(PPO's learning pass when a rollout is one trial).

Rows, all in one process so that they share the machine's load:

* ``fct``: :class:`engram.models.fct.FullContextTransformerMemory` (one parallel causal pass);
* ``memo_scan``: Memo's step path, a ``lax.scan`` of the single-step function
  (``engram.models.memo._memo_scan``, what ``sequence`` runs on unaligned chunks);
* ``memo``: Memo's ``sequence`` as used in training: the ``lax.cond`` that takes the
  parallel path (a segment at a time) on this aligned chunk.

Columns: compile seconds, seconds per call (best of ``--repeats``), learning steps/s
(``context * num_envs`` per call), the ratio to the FCT's steps/s in the same run, and XLA's
temporary buffer size of the compiled program. A row whose temporaries exceed ``--max-temp-gb``
is compiled but not run (the scan keeps one carry per step for its backward pass, so it
grows with ``context**2``).

Usage (defaults: the Memo paper's decoder, 4 layers, width 256, 8 heads, MLP 1024, segments of
256 steps, 32 summary tokens, ``max_context`` = the context)::

    python benchmarks/memo_learning.py                       # 1k, 2k, 4k steps, 2 envs
    python benchmarks/memo_learning.py --contexts 1024 --models fct memo --num-envs 4
    python benchmarks/memo_learning.py --contexts 64 --width 32 --mlp-hidden 64 \\
        --segment-length 8 --summary-length 2                # a tiny network
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from engram.models.fct import FullContextTransformerMemory
from engram.models.memo import MemoMemory, _memo_scan

MODELS = ("fct", "memo_scan", "memo")


def _scan_sequence(m: MemoMemory, carry, xs, resets):
    """``method`` for ``apply``: Memo's ``sequence`` by the step path only."""
    embedded = m.embed(xs)
    seg_len = jnp.int32(m.segment_length)
    return _memo_scan(
        m.decoder, m.summary_queries, m.spec, m.layout, seg_len, carry, embedded, resets
    )


def measure(name: str, args, context: int) -> dict:
    """Compile and time one model's learning pass; returns the row's numbers."""
    dec = dict(
        num_layers=args.num_layers,
        width=args.width,
        num_heads=args.num_heads,
        mlp_hidden=args.mlp_hidden,
        max_context=context,
    )
    if name == "fct":
        model, method = FullContextTransformerMemory(**dec), None
    else:
        model = MemoMemory(
            **dec, segment_length=args.segment_length, summary_length=args.summary_length
        )
        method = _scan_sequence if name == "memo_scan" else None
    b = args.num_envs
    xs = jax.random.normal(jax.random.key(1), (context, b, args.features))
    resets = jnp.zeros((context, b), bool).at[0].set(True)
    carry = model.initial_carry(b)
    params = jax.jit(model.init)(jax.random.key(0), carry, xs[:8], resets[:8])

    def loss(params, xs, carry, resets):
        kw = {} if method is None else {"method": method}
        _, ys = model.apply(params, carry, xs, resets, **kw)
        return jnp.mean(jnp.sin(ys))  # not a plain sum: RMSNormed outputs

    # Carry and resets are arguments, not constants: XLA would fold the masks at compile time.
    inputs = (params, xs, carry, resets)
    start = time.perf_counter()
    fn = jax.jit(jax.value_and_grad(loss)).lower(*inputs).compile()
    row = {"compile_s": time.perf_counter() - start}
    mem = fn.memory_analysis()
    row["temp_gb"] = mem.temp_size_in_bytes / 2**30 if mem is not None else float("nan")
    if row["temp_gb"] > args.max_temp_gb:
        return row
    jax.block_until_ready(fn(*inputs))
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*inputs))
        best = min(best, time.perf_counter() - start)
    row["call_s"] = best
    row["steps_s"] = context * b / best
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--contexts", nargs="+", type=int, default=[1024, 2048, 4096])
    p.add_argument("--num-envs", type=int, default=2)
    p.add_argument("--features", type=int, default=64, help="input floats per step")
    p.add_argument("--num-layers", type=int, default=4)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--num-heads", type=int, default=8)
    p.add_argument("--mlp-hidden", type=int, default=1024)
    p.add_argument("--segment-length", type=int, default=256)
    p.add_argument("--summary-length", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-temp-gb", type=float, default=8.0)
    args = p.parse_args(argv)
    print(
        f"# {jax.devices()[0].platform}, {args.num_envs} envs, decoder {args.num_layers} x "
        f"{args.width}, {args.num_heads} heads, MLP {args.mlp_hidden}, segments "
        f"{args.segment_length}, summaries {args.summary_length}"
    )
    print("| context | model | compile s | s/call | steps/s | x FCT | temp GB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for context in args.contexts:
        fct_rate = None
        for name in args.models:
            row = measure(name, args, context)
            rate = row.get("steps_s")
            if name == "fct":
                fct_rate = rate
            ratio = f"{rate / fct_rate:.2f}" if rate and fct_rate else "-"
            call = f"{row['call_s']:.3f}" if rate else "skipped"
            steps = f"{rate:,.0f}" if rate else "-"
            print(
                f"| {context} | {name} | {row['compile_s']:.1f} | {call} | {steps} | {ratio} "
                f"| {row['temp_gb']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
