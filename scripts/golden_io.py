"""What the golden-value scripts (``golden_gru.py``, ``golden_trxl.py``) share: how a
reference model's parameters and gradients are stored, and their two-step command line.

Imported by those scripts from this folder (``python scripts/golden_<model>.py ...`` puts
``scripts/`` on ``sys.path``); it needs only numpy, so it runs in engram's venv for the
``inputs`` step and in the torch venv for the ``golden`` step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

#: For the large tensors a script names, only every ``GRAD_STRIDE``-th element of the
#: flattened gradient is stored (the tests read them with the same stride), to keep the
#: files small.
GRAD_STRIDE = 8


def save_golden(out_path: str, arrays: dict, named_parameters: Iterable, strided) -> None:
    """Write ``arrays`` plus, for each ``(name, parameter)`` of a torch model after
    ``loss.backward()``, ``w/<name>`` (the weights, float16: both sides use these rounded
    values) and ``g/<name>`` (the gradient; strided for the names in ``strided``), as one
    compressed ``.npz``."""
    out = dict(arrays)
    for name, p in named_parameters:
        out[f"w/{name}"] = p.detach().numpy().astype(np.float16)
        grad = p.grad.numpy()
        out[f"g/{name}"] = grad.ravel()[::GRAD_STRIDE] if name in strided else grad
    np.savez_compressed(out_path, **out)


def run(
    argv: list[str],
    usage: str,
    write_inputs: Callable[[str], None],
    write_golden: Callable[..., None],
    golden_args: int,
) -> None:
    """``inputs OUT`` -> ``write_inputs(OUT)``; ``golden ARG...`` (``golden_args`` of them)
    -> ``write_golden(*ARGS)``; anything else exits with ``usage``."""
    if len(argv) == 2 and argv[0] == "inputs":
        write_inputs(argv[1])
    elif len(argv) == 1 + golden_args and argv[0] == "golden":
        write_golden(*argv[1:])
    else:
        raise SystemExit(usage)
