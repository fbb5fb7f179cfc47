"""What a run was made with: engram's version and git commit, the versions of the libraries
that decide its numbers, and the hardware. ``engram sweep`` saves it in each run folder
(``provenance.json``) and ``engram report`` shows it."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path

PROVENANCE = "provenance.json"
#: the distributions whose versions a report lists
LIBRARIES = ("jax", "jaxlib", "flax", "optax", "numpy", "gymnasium", "rliable", "ray")


def git_commit() -> str | None:
    """The commit of the engram checkout this code runs from (``+dirty`` when the work tree
    has changes), or None outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def provenance() -> dict:
    """``{"engram", "commit", "python", "libraries": {name: version}, "hardware": {...}}``
    of this process; the hardware is the platform, CPU count and JAX's first device."""
    hardware = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
    }
    try:
        import jax

        device = jax.devices()[0]
        hardware.update(
            device=f"{device.platform}: {getattr(device, 'device_kind', '')}".strip(": "),
            device_count=jax.device_count(),
        )
    except Exception:  # no usable backend: the rest is still worth keeping
        hardware["device"] = None
    return {
        "engram": _version("engram"),
        "commit": git_commit(),
        "python": platform.python_version(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "hardware": hardware,
    }


def write_provenance(folder: str | Path) -> dict:
    """Save :func:`provenance` to ``folder/provenance.json``; returns it."""
    info = provenance()
    Path(folder, PROVENANCE).write_text(json.dumps(info, indent=2))
    return info
