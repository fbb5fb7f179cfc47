"""The tiny sweep that the sweep and report tests share: 2 environments (a Memory Gym id
with the paper's numbers, a trial task with in-context curves) x 2 agents x 2 seeds, a few
updates each. It is trained once per test session (a file lock makes pytest-xdist's workers
wait for the first one) and then only read."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

TINY_SPEC = """
out = "tiny"

[grid]
env = ["MortarMayhem-Grid-v0", "DarkKeyToDoor-v0"]
agent = ["gru", "none"]
seed = [0, 1]
total_steps = [256]

[base]
num_envs = 4
num_steps = 8
num_epochs = 1
num_minibatches = 1
memory_hidden = 8
hidden = 8
eval_levels = 4
eval_repetitions = 1

[per_env."DarkKeyToDoor-v0"]
env_options = ["room_size=3", "episode_length=4", "trial_length=12"]
"""


def write_spec(folder: Path, text: str = TINY_SPEC, name: str = "tiny.toml", **replace) -> Path:
    """Write ``text`` (with ``old=new`` string replacements) to ``folder/name``."""
    for old, new in replace.items():
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def shared_sweep(tmp_path_factory) -> Path:
    """The folder of the tiny sweep, trained with the local executor on first use.

    ``ENGRAM_TINY_SWEEP=FOLDER`` reuses a sweep of ``TINY_SPEC`` trained before (``engram
    sweep tiny.toml``), for working on the report without training again.
    """
    if os.environ.get("ENGRAM_TINY_SWEEP"):
        return Path(os.environ["ENGRAM_TINY_SWEEP"])
    from rich.console import Console

    from engram.sweep import load_spec, run_sweep

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker has a folder in the session's
        base = base.parent
    root = base / "engram-tiny-sweep"
    root.mkdir(exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        spec = load_spec(write_spec(root))
        status = spec.out / "status.json"
        if not status.exists() or any(
            r["state"] != "done" for r in json.loads(status.read_text()).values()
        ):
            progress = run_sweep(spec, "local", console=Console(quiet=True))
            assert not progress.errors, progress.errors
    return spec.out
