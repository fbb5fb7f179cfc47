"""Reset parameters: names, defaults and allowed values, checked before any compilation.

Every environment declares its reset parameters as a tuple of :class:`ResetParameter`
with the original Memory Gym names and defaults. :func:`resolve` merges user overrides
into the defaults and raises a ``ValueError`` that names the parameter, the value and
what is allowed, so that a typo or an out-of-range value never reaches ``jit``.
"""

from __future__ import annotations

import ast
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Integer parameters live in int32 arrays inside the compiled programs: an open upper
#: (lower) bound of an int parameter is this limit, not infinity.
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


@dataclass(frozen=True)
class ResetParameter:
    """One reset parameter.

    Attributes:
        name: the original package's key, e.g. ``"arena_size"``.
        default: the original package's default value.
        kind: ``"int"``, ``"float"``, ``"bool"`` or ``"int_list"`` (a non-empty list of ints
            from which the environment samples one value per episode, as the original does
            with ``np_random.choice``).
        low, high: inclusive bounds for numbers and for every list element (``None``: open;
            ints never leave int32 and numbers must be finite).
        doc: one line for the docs and error messages.
    """

    name: str
    default: Any
    kind: str
    low: float | None = None
    high: float | None = None
    doc: str = ""

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        if self.kind in ("int", "int_list"):
            lo = INT32_MIN if self.low is None else self.low
            hi = INT32_MAX if self.high is None else self.high
        if self.kind == "bool":
            return "a bool"
        if self.kind == "int_list":
            return f"a non-empty list of ints in [{lo}, {hi}]"
        return f"{'an int' if self.kind == 'int' else 'a number'} in [{lo}, {hi}]"

    def check(self, value: Any) -> Any:
        """Return ``value`` normalised (tuple for lists), or raise ``ValueError``."""
        err = ValueError(f"reset parameter {self.name!r}: got {value!r}, expected {self.allowed()}")
        if self.kind == "bool":
            if not isinstance(value, (bool, int)) or value not in (0, 1):
                raise err
            return bool(value)
        if self.kind == "int_list":
            if isinstance(value, numbers.Integral):
                value = [value]
            if not isinstance(value, Sequence) or isinstance(value, str) or len(value) == 0:
                raise err
            out = []
            for v in value:
                if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                    raise err
                out.append(self._in_range(int(v), err))
            return tuple(out)
        if self.kind == "int":
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise err
            return self._in_range(int(value), err)
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise err
        # NaN passes every range test (all its comparisons are False); infinity passes an
        # open bound and then poisons rewards and sums.
        if not math.isfinite(float(value)):
            raise err
        return self._in_range(float(value), err)

    def _in_range(self, v, err):
        low, high = self.low, self.high
        if isinstance(v, int):  # an int parameter: int32 inside the programs
            low = INT32_MIN if low is None else low
            high = INT32_MAX if high is None else high
        if (low is not None and v < low) or (high is not None and v > high):
            raise err
        return v


def resolve(specs: Sequence[ResetParameter], overrides: Mapping[str, Any] | None) -> dict:
    """Merge ``overrides`` into the defaults of ``specs`` and validate every value.

    Returns:
        A dict ``name -> value`` with every parameter, lists as tuples.

    Raises:
        ValueError: for an unknown name (listing the valid ones) or a value outside the
            allowed range (naming the parameter, the value and what is allowed).
    """
    by_name = {s.name: s for s in specs}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        raise ValueError(f"unknown reset parameter(s) {unknown}; valid names are {sorted(by_name)}")
    return {s.name: s.check(overrides.get(s.name, s.default)) for s in specs}


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """Reset parameters from ``name=value`` strings, values as Python literals.

    ``["arena_size=4", "command_count=[5, 10]", "visual_feedback=False"]`` gives
    ``{"arena_size": 4, "command_count": [5, 10], "visual_feedback": False}``. The
    values are validated later by :func:`engram.make` (names and ranges).

    Raises:
        ValueError: an item without ``=`` or a value that is not a Python literal.
    """
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"option: got {item!r}, expected name=value (e.g. arena_size=4)")
        try:
            out[name.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            raise ValueError(
                f"option {name.strip()!r}: got {text!r}, expected a Python literal "
                "(a number, True/False or a list such as [5, 10])"
            ) from None
    return out
