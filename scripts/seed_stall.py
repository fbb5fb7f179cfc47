"""Repeat the multi-seed PPO programs of a pixel task and report any stall (issue 20).

``--num-seeds K`` runs the seeds in one program; on a 2-core CPU it used to hang inside XLA
(the host waiting forever for a result, load 0). The cause: vmapped, the orthogonal
initialisers become batched LAPACK QR calls, which jaxlib 0.10 splits over XLA's intra-op
thread pool and waits on, so two at once deadlock a 2-thread pool. engram now initialises
the seeds one after another (``lax.map``).

A child process builds a small pixel configuration with two seeds and, ``--repetitions``
times, initialises fresh seeds (new keys) and runs ``--updates`` updates; a repetition
that does not end within ``--timeout`` seconds is a stall (the child's Python stacks are
printed and it exits). ``--vmapped-init`` puts back the old, vmapped initialisation, to
show the stall::

    python scripts/seed_stall.py --repetitions 50
    python scripts/seed_stall.py --repetitions 5 --vmapped-init     # the bug
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

CHILD = """
import faulthandler, sys, tempfile, time
import jax
import engram  # noqa: F401  (engram's XLA flags, as a user gets them)
from engram.config import TrainConfig
from engram.ppo import Trainer
repetitions, updates, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
vmapped = sys.argv[4] == "1"
c = TrainConfig(env="MortarMayhem-Grid-v0", num_envs=4, num_steps=16, num_epochs=2,
                num_minibatches=2, total_steps=10**6, memory_hidden=32, hidden=32,
                num_seeds=2, run_dir=tempfile.mkdtemp())
t = Trainer(c)
if vmapped:
    t.init = jax.jit(jax.vmap(t._init))
for i in range(repetitions):
    faulthandler.dump_traceback_later(timeout, exit=True)
    start = time.perf_counter()
    keys = jax.vmap(jax.random.key)(jax.numpy.arange(2) + 2 * i)
    ts = t.init(keys)
    for _ in range(updates):
        ts, m = t.update(ts)
    jax.block_until_ready(m["loss"])
    faulthandler.cancel_dump_traceback_later()
    print(f"repetition {i + 1}/{repetitions}: ok ({time.perf_counter() - start:.1f} s)", flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=50)
    parser.add_argument("--updates", type=int, default=2)
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds before a repetition is a stall"
    )
    parser.add_argument("--vmapped-init", action="store_true", help="the old initialisation")
    args = parser.parse_args()
    cmd = [sys.executable, "-c", CHILD, str(args.repetitions), str(args.updates)]
    cmd += [str(args.timeout), "1" if args.vmapped_init else "0"]
    start = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = out.stdout.count(": ok (")
    print(out.stdout[-6000:], end="")
    stalled = done < args.repetitions
    print(
        f"{done}/{args.repetitions} repetitions completed"
        + (f"; STALL in repetition {done + 1}" if stalled else ", no stall")
        + f" ({time.perf_counter() - start:.0f} s, init "
        + ("vmapped)" if args.vmapped_init else "lax.map)")
    )
    raise SystemExit(1 if stalled else 0)


if __name__ == "__main__":
    main()
