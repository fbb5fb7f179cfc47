"""Repeat the vmapped multi-seed PPO update of a pixel task and report any stall (issue 20).

``--num-seeds K`` vmaps the whole update over a seed axis; on a 2-core CPU it was seen to
hang inside XLA (the host waiting forever for a result, load 0). Each repetition runs in a
fresh process (a stall can depend on thread start-up) that builds a small pixel
configuration with two seeds and runs ``--updates`` updates; a repetition that does not end
within ``--timeout`` seconds counts as a stall and its Python stacks are printed.

    python scripts/seed_stall.py --repetitions 50
    ENGRAM_XLA_DEFAULTS=0 python scripts/seed_stall.py   # with XLA's defaults
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

CHILD = """
import faulthandler, sys, tempfile
import jax
import engram  # noqa: F401
from engram.config import TrainConfig
from engram.ppo import Trainer
jax.config.update("jax_compilation_cache_dir", sys.argv[2])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
faulthandler.dump_traceback_later(float(sys.argv[3]) - 5, exit=True)
c = TrainConfig(env="MortarMayhem-Grid-v0", num_envs=4, num_steps=16, num_epochs=2,
                num_minibatches=2, total_steps=10**6, memory_hidden=32, hidden=32,
                num_seeds=2, run_dir=tempfile.mkdtemp())
t = Trainer(c)
ts = t.init(t.seed_keys())
for _ in range(int(sys.argv[1])):
    ts, m = t.update(ts)
    jax.block_until_ready(m["loss"])
print("ok", m["loss"])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=50)
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    stalls = 0
    flags = os.environ.get("XLA_FLAGS", "") or "(engram's defaults)"
    print(f"ENGRAM_XLA_DEFAULTS={os.environ.get('ENGRAM_XLA_DEFAULTS', '1')} XLA_FLAGS={flags}")
    with tempfile.TemporaryDirectory() as cache:
        for i in range(args.repetitions):
            start = time.perf_counter()
            cmd = [sys.executable, "-c", CHILD, str(args.updates), cache, str(args.timeout)]
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout + 30)
                ok = out.returncode == 0 and "ok" in out.stdout
            except subprocess.TimeoutExpired as e:
                out, ok = e, False
            seconds = time.perf_counter() - start
            stalls += not ok
            print(
                f"repetition {i + 1}/{args.repetitions}: {'ok' if ok else 'STALL'} "
                f"({seconds:.1f} s)",
                flush=True,
            )
            if not ok:
                print((out.stderr or "")[-3000:] if isinstance(out.stderr, str) else out.stderr)
    print(f"{stalls} stall(s) in {args.repetitions} repetitions")
    raise SystemExit(1 if stalls else 0)


if __name__ == "__main__":
    main()
