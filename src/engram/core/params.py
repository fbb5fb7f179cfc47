"""Reset parameters: names, defaults and allowed values, checked before any compilation.

Every environment declares each of its reset parameters once, as a :class:`ResetParameter`
with the original Memory Gym name and default. :func:`resolve` merges user overrides
into the defaults and raises a ``ValueError`` that names the parameter, the value and
what is allowed, so that a typo or an out-of-range value never reaches ``jit``.
:func:`to_params` then turns the values into the :class:`Params` pytree the compiled
programs read (one array per parameter, by its kind), leaving out the *static* ones,
which fix shapes or code paths and go into the environment object instead.
"""

from __future__ import annotations

import ast
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from engram.core import dfloat

#: Integer parameters live in int32 arrays inside the compiled programs: an open upper
#: (lower) bound of an int parameter is this limit, not infinity.
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


_KINDS = ("int", "float", "bool", "int_list")


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
        static: the value fixes array shapes or code paths (e.g. ``agent_scale``, the
            sprite's size): the environment's factory reads it and it is not in the
            params pytree; a new value builds (and compiles) a new environment.
        double: a ``"float"`` the original adds in float64 (the rewards): the params hold
            it as a double-float ``(2,)`` float32 (:mod:`engram.core.dfloat`).
    """

    name: str
    default: Any
    kind: str
    low: float | None = None
    high: float | None = None
    doc: str = ""
    static: bool = False
    double: bool = False

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"ResetParameter {self.name!r}: kind {self.kind!r}, not in {_KINDS}")
        if self.double and self.kind != "float":
            raise ValueError(f"ResetParameter {self.name!r}: double=True needs kind 'float'")

    def array(self, value) -> jax.Array:
        """``value`` (checked by :meth:`check`) as the params hold it: int32 for ``"int"``,
        int32 ``(k,)`` for ``"int_list"``, float32 for ``"float"`` (a double-float
        ``(2,)`` with ``double``), bool for ``"bool"``."""
        if self.double:
            return dfloat.of(value)
        if self.kind == "bool":
            return jnp.asarray(bool(value))
        dtype = jnp.float32 if self.kind == "float" else jnp.int32
        return jnp.asarray(value, dtype)

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


@jax.tree_util.register_pytree_with_keys_class
class Params:
    """The reset parameters as the compiled programs read them: a pytree of arrays with
    attribute access (``params.max_steps``), jit-, vmap- and pickle-able. Built by
    :func:`to_params`; its leaves are named by the reset parameters (original names) plus
    any values an environment derives from them (e.g. Searing Spotlights' health tables).
    Reading a name that is not there raises ``AttributeError`` listing the names there are.
    """

    def __init__(self, values: Mapping[str, Any]):
        self._values = dict(values)

    def __getattr__(self, name: str):
        if name.startswith("_"):  # not a parameter (e.g. pickle's probes before __init__)
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"params have no {name!r}; this environment's are {sorted(self._values)}"
            ) from None

    def replace(self, **changes) -> Params:
        """A copy with some values changed (as ``flax.struct`` dataclasses do).

        Raises:
            ValueError: a name that is not among these params."""
        unknown = sorted(set(changes) - set(self._values))
        if unknown:
            raise ValueError(f"params have no {unknown}; they have {sorted(self._values)}")
        return Params({**self._values, **changes})

    def names(self) -> tuple[str, ...]:
        """The values' names, in pytree order."""
        return tuple(self._values)

    def tree_flatten_with_keys(self):
        keys = tuple(self._values)
        return [(jax.tree_util.GetAttrKey(k), self._values[k]) for k in keys], keys

    @classmethod
    def tree_unflatten(cls, keys, leaves):
        return cls(dict(zip(keys, leaves, strict=True)))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Params({inner})"


def to_params(specs: Sequence[ResetParameter], values: Mapping[str, Any], **derived: Any) -> Params:
    """The :class:`Params` of validated ``values`` (:func:`resolve`'s dict).

    Every parameter of ``specs`` that is not ``static`` becomes one array
    (:meth:`ResetParameter.array`); ``derived`` adds values an environment computes from
    the parameters, or replaces a parameter's array with one in another form (e.g. a
    float bound truncated to the int the original draws with). Names are sorted, so that
    the pytree's structure depends only on which names there are.

    Raises:
        KeyError: ``values`` lacks a non-static parameter of ``specs`` (pass the complete
            dict :func:`resolve` returns).
    """
    out = {s.name: s.array(values[s.name]) for s in specs if not s.static}
    out.update(derived)
    return Params(dict(sorted(out.items())))


def static_values(specs: Sequence[ResetParameter], values: Mapping[str, Any]) -> dict:
    """The ``static`` parameters of validated ``values``, by name: what an environment's
    factory builds its static configuration from (the rest go to :func:`to_params`)."""
    return {s.name: values[s.name] for s in specs if s.static}


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
