"""Environment throughput: the original Memory Gym against engram, side by side.

For each environment id this measures, in one run on this machine:

* the original package (``memory-gym==1.0.2`` in its own virtual environment, because it
  pins gymnasium 0.29 and pygame 2.4): one process per CPU core, uniformly random
  actions, resets included; the total steps/s of all processes (every step renders a
  frame with pygame);
* engram: ``engram.core.autoreset_step_batch`` (exactly ``vmap(AutoReset(env).step)``,
  fresh episodes drawn only for the environments that finished; what training's rollout
  and ``gym.make_vec``'s same-step mode run) inside a ``lax.scan``, uniformly random
  actions, at each batch size (frames/s; compile time reported apart), on one device
  by default; with ``--cpu-devices N`` the batch is split evenly over N JAX CPU devices
  (``jax.shard_map``), each stepping its own environments, as the original runs one
  process per core. On a 2-core machine (4 December 2026, two rounds of each; README)
  two devices were faster in 17 of 20 pairs, by less than the machine's noise for most,
  so one device stays the default;
* the ratio of engram's best batch to the original's total;
* optionally (``--batch-autoreset K``) engram with ``engram.core.BatchAutoReset`` drawing
  batch/K fresh episodes per step, in a table of its own (not the headline).

Every frame is used: each step's observation (every pixel of every frame; for dict
observations every leaf, image pixels and vector entries bit for bit) is folded into a
checksum (the XOR over the batch of every byte of every observation, see
:func:`fold_checksum`) carried through the scan and returned with the summed rewards.
Without this XLA deletes whatever does not reach the output, rendering included, and the
figures would measure game logic only. Each step's frames are written to memory, as a
rollout that stores them writes them, and read back once while still in the caches.

Each engram figure is also given as a percentage of this machine's memory-bandwidth
limit for observations, measured in the same run: a jitted in-place update (read and
write, the traffic of a copy) of a buffer of ``--bandwidth-frames`` 84x84x3 uint8 frames
(4096 frames = 87 MB, past the caches), in frames/s.

Usage::

    python -m venv .venv-memory-gym && .venv-memory-gym/bin/pip install memory-gym==1.0.2
    python benchmarks/env_throughput.py --original-python .venv-memory-gym/bin/python
    python benchmarks/env_throughput.py --original-python /work/mg/bin/python \\
        --ids MortarMayhem-v0 MysteryPath-v0 --seconds 2 --json throughput.json

Without ``--original-python`` (or ``$MEMORY_GYM_PYTHON``) only engram is measured. The
output is a Markdown table on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import engram
from engram.presets import PAPER_UPDATES

#: The ids the original package has (the paper's ten); the others (TMaze-v0, the trial
#: tasks) are engram's own and measured on engram only.
ORIGINAL_IDS = frozenset(PAPER_UPDATES)

FRAME_SHAPE = (84, 84, 3)
FRAME_BYTES = 84 * 84 * 3

ORIGINAL_WORKER = r"""
import json, sys, time, os
os.environ["SDL_VIDEODRIVER"] = "dummy"
import gymnasium as gym, memory_gym  # noqa: F401
env_id, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
env = gym.make(env_id)
env.action_space.seed(seed)
env.reset(seed=seed)
steps, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    for _ in range(100):
        _, _, done, trunc, _ = env.step(env.action_space.sample())
        steps += 1
        if done or trunc:
            env.reset()
print(json.dumps({"steps": steps, "seconds": time.perf_counter() - t0}))
"""


def original_throughput(python: str, env_id: str, seconds: float, procs: int) -> float:
    """Total steps/s of ``procs`` concurrent processes of the original package."""
    workers = [
        subprocess.Popen(
            [python, "-c", ORIGINAL_WORKER, env_id, str(seconds), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(procs)
    ]
    total = 0.0
    for w in workers:
        out, err = w.communicate()
        if w.returncode != 0:
            raise RuntimeError(f"original worker for {env_id} failed:\n{err[-2000:]}")
        r = json.loads(out.strip().splitlines()[-1])
        total += r["steps"] / r["seconds"]
    return total


def observation_bytes(obs) -> list[jax.Array]:
    """Every leaf of a batch of observations as its bytes: uint8 ``(B, bytes per env)``
    (frames as they are, float and int leaves through their bits, bools as bytes)."""
    out = []
    for leaf in jax.tree.leaves(obs):
        x = leaf.reshape(leaf.shape[0], -1)
        if x.dtype == jnp.bool_:
            x = x.astype(jnp.uint8)
        if x.dtype.itemsize > 1:
            x = jax.lax.bitcast_convert_type(x, jnp.uint8).reshape(x.shape[0], -1)
        out.append(x)
    return out


def empty_checksum(obs_shape) -> list[jax.Array]:
    """The checksum before any observation: one zero uint8 vector per leaf of one
    environment's observation (``obs_shape``: arrays or shape structs, no batch axis), as
    long as the leaf's bytes."""
    return [jnp.zeros(x.size * x.dtype.itemsize, jnp.uint8) for x in jax.tree.leaves(obs_shape)]


#: Environments whose frames :func:`fold_checksum` reads back at a time (at most).
FOLD_CHUNK = 16


def fold_checksum(acc: list[jax.Array], obs) -> list[jax.Array]:
    """``acc`` (one uint8 vector per observation leaf, the bytes of one environment's
    observation) XOR every environment's observation bytes: every byte of every frame
    reaches the result.

    The frames are first made as a rollout that stores them makes them, a batch in memory
    in the observation's own shape, then read back :data:`FOLD_CHUNK` environments at a
    time in a ``fori_loop`` (each trip XORs its chunk over the environments, byte by byte:
    vectorised, and the chunk is still in the caches). The loop is what keeps XLA from
    fusing the picture into the fold. A plain XOR over the whole batch let it do that and
    choose how: at small batches it recomputed Searing Spotlights' darkness per byte in a
    loop over the environments (6,161 frames/s at B=32, 60,744 with this), and at B=64 it
    drew that picture without ever writing it (58,116 against 42,901), a frame cheaper
    than any frame a user receives (4 December 2026, alternating runs). A fold over each
    frame's bytes reshaped to one row was worse: the picture's per-row quantities were
    recomputed per byte (37 microseconds a frame instead of 6). An earlier version XORed
    each frame's 32-bit words: reading uint8 frames as 32-bit words is scalar code on
    XLA's CPU backend."""
    xor = jax.lax.bitwise_xor
    out = []
    for a, leaf in zip(acc, jax.tree.leaves(obs), strict=True):
        chunk = math.gcd(leaf.shape[0], FOLD_CHUNK)

        def trip(i, a, leaf=leaf, chunk=chunk):
            part = observation_bytes(jax.lax.dynamic_slice_in_dim(leaf, i * chunk, chunk))[0]
            return a ^ jax.lax.reduce(part, jnp.uint8(0), xor, (0,))

        out.append(jax.lax.fori_loop(0, leaf.shape[0] // chunk, trip, a))
    return out


def checksum_value(acc: list[jax.Array]) -> int:
    """The folded checksum as one int (CRC-32 of its bytes), for the JSON output."""
    return zlib.crc32(b"".join(np.asarray(a).tobytes() for a in acc))


def timed_calls(run, carry, seconds: float):
    """Call ``carry = run(carry)`` once to warm up, then until ``seconds`` have passed (at
    least once); return ``(calls, elapsed seconds, carry)``."""
    carry = jax.block_until_ready(run(carry))
    calls, t0 = 0, time.perf_counter()
    while True:
        carry = jax.block_until_ready(run(carry))
        calls += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return calls, elapsed, carry


def bandwidth_limit(frames: int, seconds: float) -> float:
    """Frame bytes/s with which a jitted function reads and rewrites, in place, a buffer of
    ``frames`` uint8 frames (the traffic of a copy). Not a write-only fill: XLA's CPU
    backend writes a broadcast several times slower than an elementwise update."""
    update = jax.jit(lambda c: (c[0] + c[1], c[1] + 1), donate_argnums=0)
    carry = (jnp.zeros((frames, *FRAME_SHAPE), jnp.uint8), jnp.uint8(1))
    calls, elapsed, _ = timed_calls(update, carry, seconds)
    return calls * frames * FRAME_BYTES / elapsed


def split_over(batch: int, devices) -> list:
    """The devices a batch of ``batch`` environments is split over: as many of ``devices``
    as divide it evenly (the greatest common divisor), in order."""
    return list(devices)[: math.gcd(batch, len(devices))]


def engram_throughput(
    env_id: str,
    batch: int,
    seconds: float,
    frames_per_call: int,
    batch_autoreset=None,
    devices=None,
) -> dict:
    """frames/s and compile seconds of a scanned, batched rollout with random actions.

    ``batch_autoreset`` None: ``autoreset_step_batch``, a fresh episode for every
    finished environment (exact). An int K: ``BatchAutoReset`` drawing ``batch // K``
    fresh episodes per step (``max(1, per-device batch // K)`` on each device). Each call
    scans ``frames_per_call // batch`` steps (at least 1).

    ``devices`` (default ``jax.devices()``): the batch is split evenly over as many of
    them as divide it (:func:`split_over`), one ``jax.shard_map`` shard each: every device
    steps its own environments with its own keys, and nothing crosses devices until the
    per-device checksums are XORed after the run. With one JAX CPU device per core
    (``--cpu-devices``) each shard can run on its own core, where a single program on one
    device leaves much of a second core idle (most of its kernels are too small for XLA to
    split); see the module docstring for what that gave."""
    env, params = engram.make(env_id)
    devices = split_over(batch, jax.devices() if devices is None else devices)
    per = batch // len(devices)
    if batch_autoreset is None:

        def step(key, states, actions):
            keys = jax.random.split(key, per)
            return engram.core.autoreset_step_batch(env, keys, states, actions, params)
    else:
        wrapped = engram.core.BatchAutoReset(env, max(1, per // batch_autoreset))

        def step(key, states, actions):
            return wrapped.step(key, states, actions, params)

    length = max(1, frames_per_call // batch)

    def body(carry, key):
        states, check, ret = carry
        k_act, k_step = jax.random.split(key)
        actions = jax.vmap(env.action_space.sample)(jax.random.split(k_act, per))
        obs, states, reward, *_ = step(k_step, states, actions)
        # ``info["final_obs"]`` (the terminal frame) is not consumed, as in a rollout that
        # does not bootstrap from it; environments that render from their state
        # (``observes_state``) then draw one frame per step.
        return (states, fold_checksum(check, obs), ret + reward.sum()), None

    def shard(key_data, states, check, ret):
        # One device's share: its key, its environments, its checksum and return (each
        # with a leading axis of 1, the device's slice of the device axis).
        key, k_scan = jax.random.split(jax.random.wrap_key_data(key_data[0]))
        check = [c[0] for c in check]
        (states, check, ret), _ = jax.lax.scan(
            body, (states, check, ret[0]), jax.random.split(k_scan, length)
        )
        return jax.random.key_data(key)[None], states, [c[None] for c in check], ret[None]

    mesh = jax.sharding.Mesh(np.array(devices), ("envs",))
    spec = jax.sharding.PartitionSpec("envs")
    # check_vma=False: the environments' lax.cond branches mix values that vary across
    # devices with constants, which shard_map's replication check refuses.
    rollout = jax.shard_map(shard, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)

    k_reset, k_run = jax.random.split(jax.random.key(0))
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(
        jax.random.split(k_reset, batch), params
    )
    obs_shape = jax.eval_shape(env.reset, jax.random.key(0), params)[0]
    check = [jnp.tile(c, (len(devices), 1)) for c in empty_checksum(obs_shape)]
    obs_bytes = sum(c.shape[1] for c in check)
    key_data = jax.random.key_data(jax.random.split(k_run, len(devices)))
    carry = (key_data, states, check, jnp.zeros(len(devices), jnp.float32))
    carry = jax.device_put(carry, jax.sharding.NamedSharding(mesh, spec))
    t0 = time.perf_counter()
    run = jax.jit(lambda c: rollout(*c), donate_argnums=0).lower(carry).compile()
    compile_s = time.perf_counter() - t0
    calls, elapsed, carry = timed_calls(run, carry, seconds)
    xor = [np.bitwise_xor.reduce(np.asarray(c), axis=0) for c in carry[2]]
    return {
        "fps": calls * length * batch / elapsed,
        "compile_s": compile_s,
        "obs_bytes": obs_bytes,
        "devices": len(devices),
        "checksum": checksum_value(xor),
    }


def use_cpu_devices(n: int | None) -> None:
    """Give JAX's CPU backend ``n`` devices (None: ``$JAX_NUM_CPU_DEVICES``, else 1). It
    must happen before JAX starts the backend; a backend already started with another
    count (e.g. ``main`` called in a process that ran JAX) keeps it, with a note on
    stderr."""
    if n is None:
        n = int(os.environ.get("JAX_NUM_CPU_DEVICES") or 1)
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:  # the backend already runs
        have = len(jax.devices("cpu"))
        if have != n:
            print(f"JAX's CPU backend already runs with {have} device(s), not {n}", file=sys.stderr)


def machine() -> str:
    """'N cores, CPU model' from /proc/cpuinfo (where there is one)."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}"


def cell(m: dict, limit: float) -> str:
    """'frames/s (percent of the bandwidth limit)'."""
    return f"{m['fps']:,.0f} ({100 * m['fps'] * m['obs_bytes'] / limit:.1f}%)"


def table(title: str, rows: list[dict], batches: list[int], procs: int, limit: float, key: str):
    """Print one Markdown table of ``rows[i][key]`` (a dict batch -> measurement)."""
    print(f"\n{title}\n")
    print(
        f"| environment | original, {procs} processes | "
        + " | ".join(f"B={b}" for b in batches)
        + " | ratio | compile s |"
    )
    print("|---|---:|" + "---:|" * len(batches) + "---:|---|")
    for row in rows:
        ms = [row[key][b] for b in batches]
        orig = row["original_sps"]
        best = max(m["fps"] for m in ms)
        print(
            f"| `{row['id']}` | {f'{orig:,.0f}' if orig else '-'} | "
            + " | ".join(cell(m, limit) for m in ms)
            + f" | {f'{best / orig:.1f}x' if orig else '-'} | "
            + " / ".join(f"{m['compile_s']:.1f}" for m in ms)
            + " |"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", nargs="*", default=None, help="env ids (default: all)")
    parser.add_argument(
        "--original-python",
        default=os.environ.get("MEMORY_GYM_PYTHON"),
        help="python of a venv with memory-gym==1.0.2 (default: $MEMORY_GYM_PYTHON)",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--procs", type=int, default=os.cpu_count(), help="original: procs")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024, 4096])
    parser.add_argument(
        "--frames-per-call",
        type=int,
        default=4096,
        help="engram: frames per compiled call (scan length = this / batch, at least 1)",
    )
    parser.add_argument(
        "--batch-autoreset",
        type=int,
        nargs="?",
        const=16,
        default=None,
        metavar="K",
        help="also measure engram.core.BatchAutoReset with batch/K fresh episodes per step "
        "(K defaults to 16), in a table of its own",
    )
    parser.add_argument(
        "--cpu-devices",
        type=int,
        default=None,
        metavar="N",
        help="JAX CPU devices to split each batch over (default: $JAX_NUM_CPU_DEVICES, "
        "else 1: every batch one program on one device)",
    )
    parser.add_argument("--bandwidth-frames", type=int, default=4096)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    if args.cpu_devices is not None and args.cpu_devices < 1:
        parser.error(f"--cpu-devices: got {args.cpu_devices}, expected an int >= 1")
    use_cpu_devices(args.cpu_devices)
    ids = args.ids or engram.registered_ids()
    for env_id in ids:
        if env_id not in engram.registered_ids():
            parser.error(f"unknown id {env_id!r}; valid ids: {engram.registered_ids()}")
    if args.original_python and not Path(args.original_python).exists():
        parser.error(f"--original-python {args.original_python!r} does not exist")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    limit = bandwidth_limit(args.bandwidth_frames, args.seconds)
    log(f"bandwidth limit: {limit / FRAME_BYTES:,.0f} frames/s ({limit / 1e9:.1f} GB/s)")
    rows = []
    for env_id in ids:
        row = {"id": env_id, "original_sps": None, "autoreset": {}, "batch_autoreset": {}}
        if args.original_python and env_id in ORIGINAL_IDS:
            row["original_sps"] = original_throughput(
                args.original_python, env_id, args.seconds, args.procs
            )
            log(f"{env_id} original x{args.procs}: {row['original_sps']:,.0f} steps/s")
        for b in args.batches:
            m = engram_throughput(env_id, b, args.seconds, args.frames_per_call)
            row["autoreset"][b] = m
            log(f"{env_id} B={b}: {m['fps']:,.0f} frames/s, compile {m['compile_s']:.1f} s")
            if args.batch_autoreset is not None:
                m = engram_throughput(
                    env_id, b, args.seconds, args.frames_per_call, args.batch_autoreset
                )
                row["batch_autoreset"][b] = m
                log(f"{env_id} B={b} BatchAutoReset: {m['fps']:,.0f} frames/s")
        rows.append(row)

    method = "every frame used: checksum of all pixels folded into the output"
    print(
        f"Machine: {machine()}; jax {jax.__version__} ({jax.devices()[0].platform}, "
        f"{jax.device_count()} device(s): each batch split over as many as divide it); "
        f"method: {method}."
    )
    print(
        f"Memory-bandwidth limit: {limit / FRAME_BYTES:,.0f} frames/s ({limit / 1e9:.1f} GB/s),"
        f" a jitted in-place update (read + write) of {args.bandwidth_frames} 84x84x3 uint8"
        f" frames ({args.bandwidth_frames * FRAME_BYTES / 1e6:.0f} MB)."
    )
    table(
        "Frames/s (percentage of the bandwidth limit); exact same-step autoreset"
        " (`engram.core.autoreset_step_batch`):",
        rows,
        args.batches,
        args.procs,
        limit,
        "autoreset",
    )
    if args.batch_autoreset is not None:
        table(
            f"Not the headline: `engram.core.BatchAutoReset`, batch/{args.batch_autoreset}"
            " fresh episodes per step:",
            rows,
            args.batches,
            args.procs,
            limit,
            "batch_autoreset",
        )
    print(
        f"\n{args.seconds:g} s per measurement; random actions, resets included. The original"
        " renders every step with pygame, one process per core; engram runs in this process."
        "\nratio = best engram batch / original; compile s per batch, not in the rates."
        "\nEvery observation's pixels (and vector entries) are folded into a checksum returned"
        " by the compiled rollout, so XLA cannot skip rendering. `info['final_obs']` (the"
        " terminal frame of a finished episode) is not consumed, as in a rollout that does not"
        " bootstrap from it."
    )
    if args.json:
        out = {
            "machine": machine(),
            "jax": jax.__version__,
            "method": method,
            "seconds": args.seconds,
            "original_procs": args.procs,
            "bandwidth_limit": {"frames": args.bandwidth_frames, "bytes_per_s": limit},
            "rows": rows,
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
