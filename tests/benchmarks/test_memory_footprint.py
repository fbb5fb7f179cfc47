"""The memory-footprint benchmark (``benchmarks/memory_footprint.py``): its FLOP formulas
against counts by hand and against the matrix products in the models' jaxprs, the Memo vs
FCT token ratio of the Memo paper, carry bytes against the models' initial carries, and a
run of its command line without measurement. Tiny networks, nothing is compiled except in
the one measured run (a tiny Memo)."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from pathlib import Path

import jax
import pytest

from engram.models import RecurrentSettings, memory_spec
from engram.models.fct import fct_initial_carry
from engram.models.memo import memo_initial_carry
from engram.models.transformer_xl import transformer_xl_initial_carry

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "memory_footprint.py"


def _load():
    spec = importlib.util.spec_from_file_location("memory_footprint", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


mf = _load()

# A tiny network: 3 input features, decoder 1 layer x width 4 (2 heads), MLP 8; segments of
# 4 steps with 2 summary tokens.
TINY = mf.Sizes(
    features=3,
    gru_hidden=5,
    trxl_layers=2,
    trxl_dim=4,
    trxl_heads=2,
    trxl_window=3,
    num_layers=1,
    width=4,
    num_heads=2,
    mlp_hidden=8,
    segment_length=4,
    summary_length=2,
)
TINY_ARGS = [
    f"--{name}={value}"
    for name, value in (
        ("features", 3),
        ("gru-hidden", 5),
        ("trxl-layers", 2),
        ("trxl-dim", 4),
        ("trxl-heads", 2),
        ("trxl-window", 3),
        ("num-layers", 1),
        ("width", 4),
        ("num-heads", 2),
        ("mlp-hidden", 8),
        ("segment-length", 4),
        ("summary-length", 2),
    )
]


def test_fct_flops_by_hand():
    # Step 5 of an FCT with a 5-step cache: embed 2*3*4 = 24; q, k, v, o 4 * 2*4*4 = 128;
    # attention over 5 keys 2 * 2*5*4 = 80; gated MLP 3 * 2*4*8 = 192.
    assert mf.flops_per_step("fct", 5, TINY) == 24 + 128 + 80 + 192
    # Two layers double everything but the embedding.
    two = dataclasses.replace(TINY, num_layers=2)
    assert mf.flops_per_step("fct", 5, two) == 24 + 2 * (128 + 80 + 192)


def test_memo_flops_by_hand():
    # Memo at step 8 of a context of 8 (2 summary sets kept): 1 finished segment, so the
    # step sees 2 summary tokens + 4 segment steps = 6 keys.
    per_token = 128 + 192  # projections and MLP of one token in the one layer
    token = 24 + per_token + 4 * 6 * 4
    # Summary queries j = 0, 1 see 2 summaries + 4 segment steps + queries 0..j: 7, 8 keys;
    # re-encoding sees 2 earlier summaries + tokens 0..j: 3, 4 keys. Amortised over 4 steps.
    queries = 2 * per_token + 4 * 4 * (7 + 8)
    reencode = 2 * per_token + 4 * 4 * (3 + 4)
    assert mf.flops_per_step("memo", 8, TINY) == token + (queries + reencode) / 4
    # RMT keeps one set: the same step sees 6 keys too, but re-encoding has no context.
    reencode_rmt = 2 * per_token + 4 * 4 * (1 + 2)
    assert mf.flops_per_step("rmt", 8, TINY) == token + (queries + reencode_rmt) / 4


def test_gru_and_trxl_flops_by_hand():
    assert mf.flops_per_step("gru", 100, TINY) == 2 * 3 * 15 + 2 * 5 * 15
    # TrXL, window 3 (a step attends to the 2 steps before it), width 4, 2 heads of 2,
    # 2 blocks: embed 2*3*4; per block q 2*2*(2*2), k and v of the 2 earlier steps
    # 2 * 2 * 2*2*(2*2), scores and sum 2 * 2*2*4, out 2*16, dense 2*16.
    block = 16 + 64 + 32 + 32 + 32
    assert mf.flops_per_step("trxl", 100, TINY) == 24 + 2 * block
    assert mf.flops_per_step("trxl", 2, TINY) == 24 + 2 * (16 + 32 + 16 + 32 + 32)


def test_implementation_flops_count_the_jaxpr():
    # FCT with an 8-step cache computes scores for all 8 slots and the new step (9 keys).
    assert mf.implementation_flops("fct", 8, TINY) == mf.fct_flops(3, 1, 4, 8, keys=9)
    # Memo with 8 // 4 = 2 summary sets: an ordinary step attends over 4 summary slots, 4
    # segment slots and itself; the segment-closing branch adds 2 summary queries over
    # 4 + 4 + 2 keys each and 2 re-encoded tokens over 4 + 2 keys each.
    per_token = 128 + 192
    ordinary = 24 + per_token + 4 * 9 * 4
    closing = 2 * (per_token + 4 * 10 * 4) + 2 * (per_token + 4 * 6 * 4)
    assert mf.implementation_flops("memo", 8, TINY) == ordinary + closing / 4
    # The GRU computes exactly what it needs.
    assert mf.implementation_flops("gru", 8, TINY) == mf.flops_per_step("gru", 8, TINY)
    # TrXL projects all 3 slots of its fixed-shape window (2 carried and the step's own,
    # masked) and the value of the empty window for a first step (3 slots, 2*3*(2*2*2)).
    empty = 2 * 3 * 8
    assert mf.implementation_flops("trxl", 8, TINY) == mf.trxl_flops(3, 2, 4, 2, keys=3) + 2 * empty


def test_matmul_flops_rejects_unknown_cond():
    jaxpr = jax.make_jaxpr(lambda a: a @ a)(jax.numpy.ones((2, 3, 3)))
    assert mf.matmul_flops(jaxpr) == 2 * 2 * 3 * 3 * 3
    with pytest.raises(ValueError, match="cond"):
        mf.matmul_flops(jaxpr, cond="mean")


def test_memo_attends_about_8x_fewer_tokens_than_fct_at_32k():
    paper = mf.Sizes()
    fct, memo = mf.attended("fct", 32768, paper), mf.attended("memo", 32768, paper)
    assert fct == 32768
    assert memo == 127 * 32 + 256
    assert 7.0 < fct / memo < 8.5
    assert mf.attended("rmt", 32768, paper) == 32 + 256
    assert mf.attended("trxl", 32768, paper) == 255
    assert mf.attended("gru", 32768, paper) == 0


def _nbytes(tree) -> int:
    return sum(math.prod(a.shape) * a.dtype.itemsize for a in jax.tree.leaves(tree))


def test_carry_bytes_match_the_initial_carries():
    s = TINY
    carries = {
        "gru": lambda: memory_spec("gru").empty_carry(RecurrentSettings(s.gru_hidden), 1),
        "trxl": lambda: transformer_xl_initial_carry(1, s.trxl_layers, s.trxl_dim, s.trxl_window),
        "fct": lambda: fct_initial_carry(1, s.num_layers, s.width, 12),
        "memo": lambda: memo_initial_carry(1, s.num_layers, s.width, 4, 2, 12),
        "rmt": lambda: memo_initial_carry(1, s.num_layers, s.width, 4, 2, 12, accumulate=False),
    }
    for model, make in carries.items():
        assert mf.carry_bytes(model, 12, s) == _nbytes(jax.eval_shape(make)), model
    # FCT: 2 (keys, values) x 1 layer x 12 steps x width 4 floats + 12 positions + a step.
    assert mf.carry_bytes("fct", 12, s) == 4 * (2 * 12 * 4 + 12 + 1)


def test_main_without_measurement(capsys):
    rows = mf.main(
        ["--models", "gru", "trxl", "fct", "memo", "rmt", "--contexts", "8", "16", "--no-measure"]
        + TINY_ARGS
    )
    out = capsys.readouterr().out
    assert [(r["model"], r["context"]) for r in rows] == [
        (m, c) for c in (8, 16) for m in ("gru", "trxl", "fct", "memo", "rmt")
    ]
    assert "| memo  |      16 |" in out
    assert "compile s" not in out
    # At 16 steps Memo sees 3 summary sets of 2 tokens and a whole segment: 10 tokens.
    assert "Memo attends to 10 tokens per layer, FCT to 16: 1.60x fewer" in out


def test_main_measures_a_tiny_memo(capsys):
    rows = mf.main(["--models", "memo", "--contexts", "8", "--repeats", "2"] + TINY_ARGS)
    (row,) = rows
    assert row["step_ms"] > 0 and row["summary_ms"] > 0 and row["steps_per_s"] > 0
    assert row["program_bytes"] is None or row["program_bytes"] > row["carry_bytes"]
    assert "summary ms" in capsys.readouterr().out


def test_main_rejects_a_context_shorter_than_a_segment():
    with pytest.raises(SystemExit):
        mf.main(["--models", "memo", "--contexts", "2", "--no-measure"] + TINY_ARGS)
