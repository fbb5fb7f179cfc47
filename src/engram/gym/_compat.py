"""What differs between the Gymnasium versions the adapters support (0.29 and 1.x), and
the guard against running JAX in a process forked after JAX started its threads.

Internal to :mod:`engram.gym`.
"""

from __future__ import annotations

import enum
import multiprocessing
import os
import sys

import gymnasium

#: Gymnasium 1.x (next-step autoreset by default, ``AutoresetMode``, ``final_obs``);
#: False on 0.29 (same-step autoreset with ``final_observation`` / ``final_info``).
GYMNASIUM_1 = int(gymnasium.__version__.split(".")[0]) >= 1

if GYMNASIUM_1:
    AutoresetMode = gymnasium.vector.AutoresetMode
else:

    class AutoresetMode(enum.Enum):
        """Gymnasium 1.x's ``gymnasium.vector.AutoresetMode``, for Gymnasium 0.29 (which
        has none): the vector adapter's ``autoreset_mode`` takes these or their values."""

        NEXT_STEP = "NextStep"
        SAME_STEP = "SameStep"
        DISABLED = "Disabled"


def parse_autoreset_mode(value) -> str:
    """``"NextStep"`` or ``"SameStep"`` from an ``AutoresetMode`` member (Gymnasium's or
    :class:`AutoresetMode`), its value or its name (any case).

    ``None`` is this Gymnasium's default: ``"NextStep"`` on 1.x, ``"SameStep"`` on 0.29
    (what ``gymnasium.vector.SyncVectorEnv`` does there).

    Raises:
        ValueError: any other value, or ``DISABLED`` (not supported).
    """
    if value is None:
        return "NextStep" if GYMNASIUM_1 else "SameStep"
    name = getattr(value, "value", value)
    if isinstance(name, str):
        key = name.replace("_", "").replace("-", "").lower()
        if key in ("nextstep", "samestep"):
            return "NextStep" if key == "nextstep" else "SameStep"
    raise ValueError(
        f"autoreset_mode: got {value!r}, expected AutoresetMode.NEXT_STEP or "
        f"AutoresetMode.SAME_STEP (or 'NextStep' / 'SameStep'); DISABLED is not supported"
    )


# ------------------------------------------------------------------- fork guard
# JAX runs thread pools; a process forked after they started inherits their locks but not
# the threads, and its first JAX call can wait forever. gymnasium's AsyncVectorEnv starts
# its workers with the platform's default start method, "fork" on Linux before Python
# 3.14, after making one environment in the parent (which starts JAX).

_FORKED_AFTER_JAX = False


def _jax_started() -> bool:
    from jax._src import xla_bridge

    started = getattr(xla_bridge, "backends_are_initialized", None)
    return True if started is None else bool(started())


def _after_fork_in_child() -> None:
    global _FORKED_AFTER_JAX
    if "jax" in sys.modules and _jax_started():
        _FORKED_AFTER_JAX = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

_HOW = (
    "start the workers with 'spawn' or 'forkserver': gymnasium.make_vec(..., "
    "vectorization_mode='async', vector_kwargs={'context': 'spawn'}) or "
    "AsyncVectorEnv(..., context='spawn'); or let gymnasium.make_vec batch every copy in "
    "one JAX program ("
    + ("its default for engram ids" if GYMNASIUM_1 else "vectorization_mode='custom'")
    + ")"
)


def _async_init_codes() -> dict:
    """The code objects of the ``AsyncVectorEnv.__init__`` of this Gymnasium, to the name
    of their start-method argument."""
    codes = {}
    classes = [gymnasium.vector.AsyncVectorEnv]
    experimental = getattr(gymnasium, "experimental", None)
    if experimental is not None and hasattr(experimental, "vector"):
        classes.append(experimental.vector.AsyncVectorEnv)
    for cls in classes:
        codes[cls.__init__.__code__] = "context"
    return codes


def check_fork(env_id: str) -> None:
    """Refuse, at once and with a message that says what to do, to build an environment
    where JAX would hang: in a process forked after JAX started, or inside an
    ``AsyncVectorEnv`` constructor about to fork its workers.

    Raises:
        RuntimeError: in either case.
    """
    if _FORKED_AFTER_JAX:
        raise RuntimeError(
            f"{env_id}: this process was forked after JAX started its threads, and JAX "
            f"hangs in such a process; {_HOW}"
        )
    codes = _async_init_codes()
    frame = sys._getframe(1)
    while frame is not None:
        argument = codes.get(frame.f_code)
        if argument is not None:
            context = frame.f_locals.get(argument)
            method = multiprocessing.get_context(context).get_start_method()
            if method == "fork":
                raise RuntimeError(
                    f"{env_id}: AsyncVectorEnv would fork its workers (start method "
                    f"{method!r}, from context={context!r}) after JAX started its "
                    f"threads, and JAX hangs in a forked process; {_HOW}"
                )
            return
        frame = frame.f_back
