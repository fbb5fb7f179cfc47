"""Faults injected into ``engram train``: SIGKILL mid-checkpoint and at random points, a
full disk, Ctrl-C while compiling and while evaluating, NaN in the parameters, two runs in
one folder, and checkpoints of another version or configuration.

Every training run of this module happens in a child process (``fault_child.py``), the
reference run included; this process only reads and writes checkpoint files. In four full
runs of the suite (xdist, 2-3 December 2026) the test worker crashed inside XLA during an
in-process run of this module, in the deserialiser (``deserialize_executable``) three
times and once compiling with no persistent cache at all, and no run of this module alone
reproduced it; children, fresh processes, have run reliably. The reference run writes its
programs into a compilation cache of this module's own; every other child starts from a
copy of it. Every verdict is checked against the files on disk: the checkpoint's update
counter and every leaf of the state, bit for bit against a run never interrupted.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import flax.serialization
import jax
import numpy as np
import pytest
from rich.console import Console

from engram import cli
from engram.config import TrainConfig
from engram.run import (
    CHECKPOINT,
    LOCK,
    RunInUseError,
    load_checkpoint,
    open_run,
    save_checkpoint,
    train,
)
from engram.run import checkpoint as checkpoint_module

#: Four updates of the T-maze (vector observations: compiles fastest), a checkpoint after
#: every update.
CONFIG = dict(
    env="TMaze-v0",
    env_options=("corridor_length=4",),
    num_envs=2,
    num_steps=8,
    num_minibatches=2,
    num_epochs=1,
    total_steps=64,
    memory_hidden=8,
    hidden=8,
    eval_levels=3,
    eval_repetitions=1,
    checkpoint_every=1,
)
CHILD = Path(__file__).with_name("fault_child.py")


def config(tmp_path: Path, name: str, **kw) -> TrainConfig:
    return TrainConfig(**{**CONFIG, "run_dir": str(tmp_path), "run_name": name, **kw})


def cli_args(tmp_path: Path, name: str) -> list[str]:
    """The command line of :func:`config` (``engram train`` options)."""
    args = ["--run-dir", str(tmp_path), "--run-name", name]
    for key, value in CONFIG.items():
        flag = "--" + key.replace("_", "-")
        args += [flag, *value] if isinstance(value, tuple) else [flag, str(value)]
    return args


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def leaves(ts) -> list[np.ndarray]:
    def raw(x):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.key_data(x)
        return x

    return [np.asarray(raw(x)) for x in jax.tree.leaves(ts)]


def load(run: Path):
    """The checkpoint of ``run`` (its own configuration's structure; nothing compiles)."""
    return open_run(run)[2]


def assert_same_state(a, b) -> None:
    for x, y in zip(leaves(a), leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory) -> Path:
    """This module's compilation cache: the reference run writes its programs there, every
    other child starts from a copy of it."""
    return tmp_path_factory.mktemp("faults-jax-cache")


@pytest.fixture(scope="module")
def full(tmp_path_factory, module_cache) -> Path:
    """The run never interrupted (its child fills this module's compilation cache)."""
    tmp = tmp_path_factory.mktemp("faults")
    child = Child("plain", "-", cli_args(tmp, "full"), cache=module_cache, copy=False)
    rc, out, err = child.finish()
    assert rc == 0, out + err
    return tmp / "full"


class Child:
    """``engram train`` with a fault planted (``fault_child.py MODE ARG``), its output read
    line by line. Its compilation cache: a copy of ``cache`` (``copy=False``: ``cache``
    itself; ``None``: no cache, a real compile)."""

    def __init__(
        self,
        mode: str,
        arg,
        args: list[str],
        cache: Path | None = None,
        copy: bool = True,
        seed: int = 0,
    ):
        env = dict(os.environ, FAULT_SEED=str(seed), PYTHONUNBUFFERED="1")
        if cache is not None:
            if copy:
                # A child killed while it writes a new entry leaves a truncated file (jax
                # 0.10 writes entries in place), and a process that later reads it aborts
                # in XLA's deserialiser (it did in this suite): each child writes its own.
                own = Path(tempfile.mkdtemp(prefix="jax-cache-child-"))
                weakref.finalize(self, shutil.rmtree, own, True)
                shutil.copytree(cache, own, dirs_exist_ok=True)
                cache = own
            env.update(
                JAX_COMPILATION_CACHE_DIR=str(cache),
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
            )
        else:
            env.pop("JAX_COMPILATION_CACHE_DIR", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), mode, str(arg), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []

    def wait_for(self, text: str, timeout: float = 300) -> str:
        """Read stdout until a line contains ``text``; return that line."""
        deadline = time.time() + timeout
        for line in self.proc.stdout:
            self.lines.append(line)
            if text in line:
                return line
            if time.time() > deadline:
                break
        self.proc.kill()
        raise AssertionError(f"no {text!r} in the child's output:\n{''.join(self.lines)}")

    def finish(self, timeout: float = 300) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, "".join(self.lines) + out, err


def resume_and_compare(run: Path, full: Path, cache: Path) -> None:
    """Resume ``run`` (``engram train --resume``, in a child) and check that it ends bit for
    bit where the uninterrupted run ended, evaluation included."""
    (run / "eval.json").unlink(missing_ok=True)
    rc, out, err = Child("plain", "-", ["--resume", str(run)], cache).finish()
    assert rc == 0, out + err
    assert int(load(run).update) == 4
    assert_same_state(load(run), load(full))
    returns = [json.loads((r / "eval.json").read_text())["returns"] for r in (run, full)]
    assert returns[0] == returns[1]
    assert not (run / (CHECKPOINT + ".tmp")).exists()


def test_sigkill_in_the_middle_of_a_checkpoint_write_resumes_bit_identical(full, module_cache):
    """Killed while the checkpoint of update 3 is half written: the checkpoint of update 2
    is intact, the half-written temporary file is ignored, the resumed run ends equal."""
    tmp = full.parent
    child = Child("midwrite", 3, cli_args(tmp, "midwrite"), module_cache, seed=3)
    prefix, size = map(int, child.wait_for("MIDWRITE").split()[1:])
    child.proc.send_signal(signal.SIGKILL)
    rc, _, _ = child.finish()
    assert rc == -signal.SIGKILL
    run = tmp / "midwrite"
    # The kill came mid-write: a partial temporary file beside a complete checkpoint.
    assert (run / (CHECKPOINT + ".tmp")).stat().st_size == prefix < size
    assert int(load(run).update) == 2
    resume_and_compare(run, full, module_cache)


@pytest.mark.parametrize("seed", [11])
def test_sigkill_at_a_random_point_resumes_bit_identical(full, module_cache, seed):
    """SIGKILL at a random time after the first update (updates are slowed to 0.3 s so
    the run is alive for the whole window): whatever was on disk resumes to the same end."""
    tmp = full.parent
    name = f"random{seed}"
    child = Child("slow", 0.3, cli_args(tmp, name), module_cache)
    child.wait_for("first update")
    # "first update" is printed just before update 1's checkpoint is written.
    delay = random.Random(seed).uniform(0.05, 0.85)
    time.sleep(delay)
    child.proc.send_signal(signal.SIGKILL)
    rc, out, _ = child.finish()
    assert rc == -signal.SIGKILL, f"the run ended before the kill at +{delay:.2f} s:\n{out}"
    run = tmp / name
    done = int(load(run).update)
    assert 1 <= done < 4, f"kill at +{delay:.2f} s left the checkpoint of update {done}"
    resume_and_compare(run, full, module_cache)


def test_full_disk_stops_with_a_clear_error_and_keeps_the_last_checkpoint(full, module_cache):
    """The third checkpoint write meets a 1 KiB file-size limit (EFBIG, as a full disk
    gives ENOSPC): one line of error, exit 1, the checkpoint of update 2 byte for byte."""
    tmp = full.parent
    child = Child("fsize", 3, cli_args(tmp, "disk"), module_cache)
    rc, out, err = child.finish()
    run = tmp / "disk"
    assert rc == 1, out + err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: checkpoint: could not write")
    assert "File too large" in lines[0] and "previous checkpoint is unchanged" in lines[0]
    assert not (run / (CHECKPOINT + ".tmp")).exists()
    assert int(load(run).update) == 2
    # The run continues once there is room again, to the same end.
    resume_and_compare(run, full, module_cache)


def test_full_disk_with_enospc_mid_write_in_process(full, tmp_path, monkeypatch):
    """``save_checkpoint`` itself: a write that fails half way with ENOSPC leaves the
    previous checkpoint's bytes and no temporary file."""
    ts = load(full)
    path = tmp_path / CHECKPOINT
    save_checkpoint(path, ts)
    before = path.read_bytes()

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(checkpoint_module, "open", lambda p, m: Full(open(p, m)), raising=False)
    with pytest.raises(OSError, match="No space left on device.*previous checkpoint is unchanged"):
        save_checkpoint(path, ts)
    assert path.read_bytes() == before
    assert not (tmp_path / (CHECKPOINT + ".tmp")).exists()


def test_ctrl_c_while_compiling_stops_cleanly(tmp_path):
    """SIGINT as the first update starts compiling (no compilation cache: a real compile):
    exit 130, no traceback, a loadable checkpoint of update 0 to resume from."""
    child = Child("plain", "-", cli_args(tmp_path, "compiling"))
    child.wait_for("compiling the update")
    child.proc.send_signal(signal.SIGINT)
    rc, out, err = child.finish()
    assert rc == 130, out + err
    assert "Traceback" not in err and "Traceback" not in out
    assert "first update (with compilation)" not in out, "the interrupt came after compiling"
    assert "interrupted: checkpoint of update 0 written" in out
    assert int(load(tmp_path / "compiling").update) == 0


def test_ctrl_c_while_evaluating_stops_cleanly(full, module_cache):
    """SIGINT during the periodic evaluation after update 1: exit 130, no traceback, the
    checkpoint of update 1; resumed, the run ends as the uninterrupted one."""
    tmp = full.parent
    args = [*cli_args(tmp, "evaluating"), "--eval-every", "1"]
    child = Child("evalmark", "-", args, module_cache)
    child.wait_for("EVALUATING")
    child.proc.send_signal(signal.SIGINT)
    rc, out, err = child.finish()
    assert rc == 130, out + err
    assert "Traceback" not in err and "Traceback" not in out
    assert "interrupted: checkpoint of update 1 written" in out
    run = tmp / "evaluating"
    assert int(load(run).update) == 1
    assert not (run / (CHECKPOINT + ".tmp")).exists()


def test_nan_in_the_parameters_stops_and_keeps_the_last_finite_checkpoint(tmp_path, module_cache):
    """A parameter turns NaN in update 3 while that update's loss is finite: the run stops
    at once (one line of error naming the update, exit 1) and the checkpoint on disk is
    update 2's, every leaf finite."""
    rc, out, err = Child("nan", 3, cli_args(tmp_path, "nan"), module_cache).finish()
    assert rc == 1, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.match(r"error: update 3: parameters .* not finite", lines[0]), lines[0]
    kept = load(tmp_path / "nan")
    assert int(kept.update) == 2
    assert all(np.isfinite(x).all() for x in leaves(kept) if np.issubdtype(x.dtype, np.inexact))


def test_a_second_run_in_the_same_folder_refuses_and_a_dead_holders_lock_is_taken(
    tmp_path, capsys, module_cache
):
    """A living process holds the run folder's lock: ``engram train`` there refuses (one
    line naming the folder and the holder's pid, nothing written). SIGKILLed, the holder
    leaves its lock file behind, and the next run takes it over."""
    run = tmp_path / "shared"
    run.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"f = open({str(run / LOCK)!r}, 'a+')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "f.write(str(os.getpid())); f.flush(); print('held', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SystemExit) as e:
            cli.main(["train", *cli_args(tmp_path, "shared")])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: run folder") and f"pid {holder.pid}" in err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert sorted(p.name for p in run.iterdir()) == [LOCK]
        with pytest.raises(RunInUseError, match="in use"):
            train(config(tmp_path, "shared"), console=quiet())
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run / LOCK).exists()  # stale: its holder is dead
    child = Child("plain", "-", cli_args(tmp_path, "shared"), module_cache)
    rc, out, err = child.finish()
    assert rc == 0, out + err
    assert int(load(run).update) == 4
    assert (run / LOCK).read_text().strip() == str(child.proc.pid)


def test_checkpoint_of_another_version_or_configuration_is_refused_by_name(full, monkeypatch):
    c, trainer, ts = open_run(full)
    path = full.parent / "versions" / CHECKPOINT
    path.parent.mkdir()
    # Another engram version wrote it.
    monkeypatch.setattr(checkpoint_module, "__version__", "0.0.9")
    save_checkpoint(path, ts, c)
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"written by engram 0\.0\.9, this is engram 0\.1\.0"):
        load_checkpoint(path, trainer.state_shapes())
    # Another configuration with the same shapes: a different learning rate and discount.
    save_checkpoint(path, ts, c)
    other = dataclasses.replace(c, lr=1e-3, gamma=0.9)
    with pytest.raises(ValueError, match=r"another configuration \(gamma: checkpoint 0\.995"):
        load_checkpoint(path, trainer.state_shapes(), other)
    with pytest.raises(ValueError, match=r"lr: checkpoint 0\.000275, now 0\.001"):
        load_checkpoint(path, trainer.state_shapes(), other)
    # Where and how a run reports is not its state: those differences load.
    moved = dataclasses.replace(c, run_dir="elsewhere", eval_levels=7, total_steps=640)
    assert_same_state(load_checkpoint(path, trainer.state_shapes(), moved), ts)
    # A checkpoint from before the header (the bare state) still loads.
    raw = jax.tree.map(
        lambda x: (
            jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
        ),
        ts,
    )
    path.write_bytes(flax.serialization.to_bytes(jax.device_get(raw)))
    assert_same_state(load_checkpoint(path, trainer.state_shapes(), c), ts)
