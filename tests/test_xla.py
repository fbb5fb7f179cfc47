"""engram's XLA defaults (issues 20 and 17): the YNN flag is added to XLA_FLAGS and CPU
programs run on the calling thread when engram is imported, the user's own setting wins,
and ENGRAM_XLA_DEFAULTS=0 opts out."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from engram._xla import ASYNC_DISPATCH, OPT_OUT, YNN_FLAG, apply_cpu_dispatch, apply_cpu_flags

ASYNC_ENV = ASYNC_DISPATCH.upper()

PROBE = "import os, engram; print(os.environ.get('XLA_FLAGS', ''))"


def _flags_after_import(env: dict[str, str]) -> str:
    """XLA_FLAGS as a fresh interpreter sees it after ``import engram``."""
    base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", OPT_OUT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_engram_adds_the_ynn_flag_and_keeps_the_users_other_flags():
    assert _flags_after_import({}) == YNN_FLAG
    mine = "--xla_cpu_enable_fast_math=false"
    assert _flags_after_import({"XLA_FLAGS": mine}).split() == [mine, YNN_FLAG]


def test_the_users_ynn_setting_wins_and_the_opt_out_keeps_xlas_defaults():
    theirs = "--xla_cpu_experimental_ynn_fusion_type=none"
    assert _flags_after_import({"XLA_FLAGS": theirs}) == theirs
    assert _flags_after_import({OPT_OUT: "0"}) == ""


@pytest.mark.parametrize("value", ["0", "false", "No", " off "])
def test_opt_out_spellings(value):
    environ = {OPT_OUT: value}
    assert apply_cpu_flags(environ) is False and "XLA_FLAGS" not in environ


def test_the_flag_reaches_the_running_backend():
    """The suite's process imported engram before any computation, so its CPU backend
    started with the flag: a matmul and the ReLU after it compile into one YNN fusion
    (with XLA's defaults the ReLU is a fusion of its own after the YNN dot)."""
    if os.environ.get(OPT_OUT, "1").strip() == "0" or jax.default_backend() != "cpu":
        pytest.skip("engram's XLA defaults are off or the backend is not the CPU")
    x = jnp.ones((64, 64), jnp.float32)
    hlo = jax.jit(lambda a, b: jnp.maximum(a @ b, 0)).lower(x, x).compile().as_text()
    assert "ROOT %ynn_fusion" in hlo


DISPATCH_PROBE = """
import time, engram, jax, jax.numpy as jnp
f = jax.jit(lambda x: jax.lax.fori_loop(0, 40, lambda i, v: jnp.sin(v) * 1.0001, x))
x = jnp.ones(1 << 21)
f(x).block_until_ready()  # compiled
t0 = time.perf_counter(); y = f(x); t1 = time.perf_counter(); y.block_until_ready()
print((t1 - t0) / (time.perf_counter() - t0))
"""


def _share_of_the_run_inside_the_call(env: dict[str, str]) -> float:
    """How much of a ~0.1 s computation a fresh interpreter spends inside the call that
    starts it (the rest in ``block_until_ready``): about 1 when programs run on the
    calling thread, about 0 when they are dispatched asynchronously."""
    base = {k: v for k, v in os.environ.items() if k not in (OPT_OUT, ASYNC_ENV)}
    out = subprocess.run(
        [sys.executable, "-c", DISPATCH_PROBE],
        env={**base, **env},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return float(out.stdout.strip().splitlines()[-1])


def test_importing_engram_runs_cpu_programs_on_the_calling_thread():
    if jax.default_backend() != "cpu":
        pytest.skip("the setting concerns the CPU backend")
    assert _share_of_the_run_inside_the_call({}) > 0.9
    assert _share_of_the_run_inside_the_call({OPT_OUT: "0"}) < 0.5  # JAX's default
    # The user's setting wins, both ways (JAX itself ignores the variable).
    assert _share_of_the_run_inside_the_call({ASYNC_ENV: "1"}) < 0.5
    assert _share_of_the_run_inside_the_call({OPT_OUT: "0", ASYNC_ENV: "no"}) < 0.5
    assert _share_of_the_run_inside_the_call({ASYNC_ENV: "off"}) > 0.9


def test_a_bad_dispatch_setting_names_the_variable():
    with pytest.raises(ValueError, match=f"{ASYNC_ENV}: got 'maybe'"):
        apply_cpu_dispatch({ASYNC_ENV: "maybe"})
