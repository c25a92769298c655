"""Element-wise math, comparison and logic processes of openEO.

Arguments are numbers, ``None`` (openEO ``null``), booleans, strings or data cubes
(``xarray.DataArray``, possibly the array of a callback, see :mod:`s1stac.openeo.context`).
``null`` in gives ``null`` out, as the specifications require; in arrays ``null`` is NaN.
numpy floating-point warnings (log of 0, division by 0) are silenced: the results (-inf, inf,
NaN) are the values the specifications ask for.

References
----------
openEO processes 2.0 (math, comparison, logic), https://processes.openeo.org
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ProcessParameterInvalid

__all__ = [
    "absolute",
    "add",
    "and_",
    "between",
    "clip",
    "divide",
    "eq",
    "exp",
    "gt",
    "gte",
    "if_",
    "is_nan",
    "is_nodata",
    "is_valid",
    "linear_scale_range",
    "ln",
    "log",
    "lt",
    "lte",
    "multiply",
    "neq",
    "normalized_difference",
    "not_",
    "or_",
    "power",
    "sqrt",
    "subtract",
]


class _Quiet:
    """A numpy function run with floating-point warnings off (picklable for dask workers)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __call__(self, *args: Any) -> Any:
        with np.errstate(all="ignore"):
            return self.func(*args)


def _apply(func: Callable[..., Any], *args: Any) -> Any:
    """Apply a numpy function element-wise; ``None`` if any argument is ``None``."""
    if any(arg is None for arg in args):
        return None
    for arg in args:
        if isinstance(arg, list | dict | str):
            raise ProcessParameterInvalid(
                f"expected a number or a data cube, got {type(arg).__name__} {arg!r}"
            )
    quiet = _Quiet(func)
    if any(isinstance(arg, xr.DataArray) for arg in args):
        return xr.apply_ufunc(quiet, *args, dask="parallelized")
    value = quiet(*args)
    return value.item() if isinstance(value, np.generic) else value


def _float_power(base: Any, p: Any) -> Any:
    return np.power(np.asarray(base, dtype=np.float64) if np.isscalar(base) else base, p)


def _log(x: Any, base: Any) -> Any:
    return np.log(x) / np.log(base)


def _linear_scale(x: Any, in_min: Any, in_max: Any, out_min: Any, out_max: Any) -> Any:
    clipped = np.clip(x, min(in_min, in_max), max(in_min, in_max))
    return (clipped - in_min) / (in_max - in_min) * (out_max - out_min) + out_min


def absolute(x: Any) -> Any:
    """Absolute value of ``x``."""
    return _apply(np.abs, x)


def add(x: Any, y: Any) -> Any:
    """Sum ``x + y``."""
    return _apply(np.add, x, y)


def subtract(x: Any, y: Any) -> Any:
    """Difference ``x - y``."""
    return _apply(np.subtract, x, y)


def multiply(x: Any, y: Any) -> Any:
    """Product ``x * y``."""
    return _apply(np.multiply, x, y)


def divide(x: Any, y: Any) -> Any:
    """Quotient ``x / y``; division by zero gives ±inf or NaN."""
    return _apply(np.true_divide, x, y)


def power(base: Any, p: Any) -> Any:
    """Raise ``base`` to the power ``p`` (float result)."""
    return _apply(_float_power, base, p)


def sqrt(x: Any) -> Any:
    """Square root; NaN for negative numbers."""
    return _apply(np.sqrt, x)


def exp(p: Any) -> Any:
    """Euler's number raised to the power ``p``."""
    return _apply(np.exp, p)


def ln(x: Any) -> Any:
    """Natural logarithm; ``-inf`` at 0, NaN below."""
    return _apply(np.log, x)


def log(x: Any, base: Any) -> Any:
    """Logarithm of ``x`` to ``base`` (``log(x, 10) * 10`` converts power to dB)."""
    return _apply(_log, x, base)


def clip(x: Any, min: Any, max: Any) -> Any:  # noqa: A002 - openEO parameter names
    """Clip ``x`` to ``[min, max]``; ``null`` stays ``null``."""
    if min is not None and max is not None and min > max:
        raise ProcessParameterInvalid(f"min {min} is greater than max {max}", parameter="min")
    return _apply(np.clip, x, min, max)


def linear_scale_range(
    x: Any, inputMin: Any, inputMax: Any, outputMin: Any = 0, outputMax: Any = 1
) -> Any:
    """Clip ``x`` to the input range and map it linearly onto the output range."""
    if inputMin == inputMax:
        raise ProcessParameterInvalid(
            f"inputMin and inputMax are both {inputMin}: the input range must not be empty",
            parameter="inputMax",
        )
    return _apply(_linear_scale, x, inputMin, inputMax, outputMin, outputMax)


def _normalized_difference(a: Any, b: Any) -> Any:
    return (a - b) / (a + b)


def normalized_difference(x: Any, y: Any) -> Any:
    """``(x - y) / (x + y)``."""
    return _apply(_normalized_difference, x, y)


def _number(value: Any) -> bool:
    """Whether a JSON value is a number (openEO orders numbers only; strings only with eq)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(op: Callable[[Any, Any], Any], x: Any, y: Any) -> Any:
    """Ordering comparison; in data cubes a comparison with NaN is false."""
    if x is None or y is None:
        return None
    if isinstance(x, xr.DataArray) or isinstance(y, xr.DataArray):
        return _apply(op, x, y)
    if not (_number(x) and _number(y)):
        return False
    return bool(op(x, y))


class _WithinDelta:
    def __init__(self, delta: float) -> None:
        self.delta = delta

    def __call__(self, a: Any, b: Any) -> Any:
        return np.abs(a - b) <= self.delta


def eq(x: Any, y: Any, delta: float | None = None, case_sensitive: bool = True) -> Any:
    """``x == y`` (within ``delta`` for numbers, case-insensitively for strings if asked)."""
    if x is None or y is None:
        return None
    if isinstance(x, str) and isinstance(y, str):
        return x == y if case_sensitive else x.casefold() == y.casefold()
    if isinstance(x, xr.DataArray) or isinstance(y, xr.DataArray):
        if delta is not None:
            return _compare(_WithinDelta(delta), x, y)
        return _compare(np.equal, x, y)
    if isinstance(x, bool) != isinstance(y, bool) or isinstance(x, str) != isinstance(y, str):
        return False
    if isinstance(x, list | dict) or isinstance(y, list | dict):
        return x == y
    if delta is not None:
        return bool(abs(x - y) <= delta)
    return bool(x == y)


def neq(x: Any, y: Any, delta: float | None = None, case_sensitive: bool = True) -> Any:
    """Negation of :func:`eq` (``null`` stays ``null``)."""
    return not_(eq(x, y, delta, case_sensitive))


def gt(x: Any, y: Any) -> Any:
    """``x > y``."""
    return _compare(np.greater, x, y)


def gte(x: Any, y: Any) -> Any:
    """``x >= y``."""
    return _compare(np.greater_equal, x, y)


def lt(x: Any, y: Any) -> Any:
    """``x < y``."""
    return _compare(np.less, x, y)


def lte(x: Any, y: Any) -> Any:
    """``x <= y``."""
    return _compare(np.less_equal, x, y)


def between(x: Any, min: Any, max: Any, exclude_max: bool = False) -> Any:  # noqa: A002
    """``min <= x <= max`` (``< max`` with ``exclude_max``)."""
    upper = lt(x, max) if exclude_max else lte(x, max)
    return and_(gte(x, min), upper)


def not_(x: Any) -> Any:
    """Logical negation; ``null`` stays ``null``."""
    if x is None:
        return None
    if isinstance(x, xr.DataArray):
        return ~x.astype(bool)
    return not x


def and_(x: Any, y: Any) -> Any:
    """Logical and with openEO's three-valued logic (``false and null`` is ``false``)."""
    if isinstance(x, xr.DataArray) or isinstance(y, xr.DataArray):
        return _apply(np.logical_and, x, y)
    if x is False or y is False:
        return False
    if x is None or y is None:
        return None
    return bool(x and y)


def or_(x: Any, y: Any) -> Any:
    """Logical or with openEO's three-valued logic (``true or null`` is ``true``)."""
    if isinstance(x, xr.DataArray) or isinstance(y, xr.DataArray):
        return _apply(np.logical_or, x, y)
    if x is True or y is True:
        return True
    if x is None or y is None:
        return None
    return bool(x or y)


def if_(value: Any, accept: Any, reject: Any = None) -> Any:
    """``accept`` where ``value`` is true, else ``reject``."""
    if isinstance(value, xr.DataArray):
        other = np.nan if reject is None else reject
        return xr.where(value.fillna(False).astype(bool), accept, other)  # type: ignore[no-untyped-call]
    return accept if value is True else reject


def is_nan(x: Any) -> Any:
    """Whether ``x`` is the IEEE 754 value NaN (in data cubes, NaN is also no-data)."""
    if isinstance(x, xr.DataArray):
        return x.isnull()
    return isinstance(x, float) and math.isnan(x)


def is_nodata(x: Any) -> Any:
    """Whether ``x`` is ``null`` (NaN in data cubes)."""
    if isinstance(x, xr.DataArray):
        return x.isnull()
    return x is None


def is_valid(x: Any) -> Any:
    """Whether ``x`` is neither ``null``, NaN nor infinite."""
    if isinstance(x, xr.DataArray):
        return _apply(np.isfinite, x)
    if x is None:
        return False
    if isinstance(x, float):
        return math.isfinite(x)
    return True
