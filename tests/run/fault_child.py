"""A child process for the fault tests (tests/run/test_faults.py): ``engram train`` with
one fault planted, run as ``python fault_child.py MODE ARG [engram train options...]``.

Modes (the fault is planted around engram's code, never inside it):

- ``plain -``: no fault.
- ``midwrite N``: the N-th checkpoint write stops after a random prefix of its bytes has
  reached the temporary file (synced), prints ``MIDWRITE <prefix> <size>`` and waits for
  the parent's SIGKILL.
- ``slow SECONDS``: each update sleeps first, so a kill at a random time lands at random
  points of the run (updates, logging, checkpoint writes).
- ``fsize N``: the N-th checkpoint write meets a 1 KiB file-size limit (``RLIMIT_FSIZE``:
  the kernel refuses the write with ``EFBIG`` as a full disk refuses it with ``ENOSPC``).
- ``nan N``: after update N, one parameter is NaN while the update's loss stays finite.
- ``evalmark -``: every evaluation prints ``EVALUATING`` and then waits, so the parent's
  SIGINT lands inside it.

The seed of ``midwrite``'s random prefix is ``FAULT_SEED`` (environment).
"""

from __future__ import annotations

import os
import random
import resource
import signal
import sys
import time

import jax
import jax.numpy as jnp

from engram import cli
from engram.ppo.trainer import Trainer
from engram.run import checkpoint, loop


def _on_nth_checkpoint_write(n: int, write):
    """Replace the checkpoint module's ``open`` so the n-th write of a ``.tmp`` file goes
    through ``write(file, data)``."""
    opened = [0]

    class File:
        def __init__(self, f, hit):
            self.f, self.hit = f, hit

        def write(self, data):
            return write(self.f, data) if self.hit else self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fake_open(path, mode="r", *args, **kw):
        f = open(path, mode, *args, **kw)
        if not str(path).endswith(".tmp"):
            return f
        opened[0] += 1
        return File(f, opened[0] == n)

    checkpoint.open = fake_open  # module global: shadows the builtin for that module only


def main() -> None:
    # Ctrl-C reaches this run as it reaches a run in a terminal, however the suite was
    # started: a shell starts background jobs with SIGINT ignored, children inherit that,
    # and Python then installs no KeyboardInterrupt handler. (Set here rather than in a
    # preexec_fn: Python code between fork and exec is unsafe in the threaded parent.)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    mode, arg, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "midwrite":

        def stop_midway(f, data):
            prefix = random.Random(int(os.environ.get("FAULT_SEED", "0"))).randrange(1, len(data))
            f.write(data[:prefix])
            f.flush()
            os.fsync(f.fileno())
            print(f"MIDWRITE {prefix} {len(data)}", flush=True)
            time.sleep(600)

        _on_nth_checkpoint_write(int(arg), stop_midway)
    elif mode == "fsize":
        # Ignored, SIGXFSZ would kill the process; then the write fails with EFBIG.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

        def limited(f, data):
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))
            try:
                return f.write(data)
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

        _on_nth_checkpoint_write(int(arg), limited)
    elif mode in ("slow", "nan"):

        class Faulty(Trainer):
            def __init__(self, config):
                super().__init__(config)
                real = self.update

                def update(ts):
                    if mode == "slow":
                        time.sleep(float(arg))
                    ts, m = real(ts)
                    if mode == "nan" and int(ts.update) == int(arg):
                        leaves, tree = jax.tree.flatten(ts.params)
                        leaves[0] = leaves[0].at[(0,) * leaves[0].ndim].set(jnp.nan)
                        ts = ts.replace(params=jax.tree.unflatten(tree, leaves))
                    return ts, m

                self.update = update

        loop.Trainer = Faulty
    elif mode == "evalmark":
        real_evaluate = loop.evaluate

        def evaluate(*a, **kw):
            print("EVALUATING", flush=True)
            time.sleep(60)
            return real_evaluate(*a, **kw)

        loop.evaluate = evaluate
    elif mode != "plain":
        raise SystemExit(f"unknown mode {mode}")
    print("STARTING", flush=True)
    cli.main(["train", *args])


if __name__ == "__main__":
    main()
