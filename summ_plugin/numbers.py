"""Numbers that users give (options, JSON options, selector files) must be finite and of a
usable size: Python's ``float("nan")`` and ``json.loads("Infinity")`` / ``json.loads("1e400")``
accept what no setting means, and every comparison with NaN is False, so a NaN limit or
threshold silently disables what it guards (``--max-unk-rate nan`` published a data-bin with
60% ``<unk>``). The one home of those checks; no fairseq import.
"""
import argparse
import json
import math
from typing import Any, Optional

from summ_plugin.errors import UserError

# Larger magnitudes are no setting anyone means, and sums of a few of them overflow to inf
# (a selector's leaves of 1e308 add up to inf, then inf - inf = NaN).
MAX_MAGNITUDE = 1e100


class NonFiniteNumberError(UserError, ValueError):
    """A NaN, an infinity or an absurd magnitude where a number is needed."""


def number_problem(value: Any, max_magnitude: float = MAX_MAGNITUDE) -> Optional[str]:
    """Why ``value`` is no usable number (None when it is one): not a number (bools are not),
    NaN, infinite, or above ``max_magnitude`` in size."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"not a number ({type(value).__name__})"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN is not a number"
        if math.isinf(value):
            return "infinity is not a usable number"
    if abs(value) > max_magnitude:
        return f"{value:g} is above {max_magnitude:g} in size"
    return None


def check_number(value: Any, where: str, max_magnitude: float = MAX_MAGNITUDE) -> float:
    """``value`` as a float; NonFiniteNumberError naming ``where`` when it is no usable number."""
    problem = number_problem(value, max_magnitude)
    if problem:
        raise NonFiniteNumberError(f"{where}: {problem}")
    return float(value)


def finite_float(text: str) -> float:
    """argparse type of a float option: a finite number (``nan``, ``inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    problem = number_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}; give a finite number")
    return value


MAX_SEED = 2**32 - 1  # numpy's RandomState takes 0 .. 2**32 - 1


def seed_int(text: str) -> int:
    """argparse type of a ``--seed`` option: an integer 0 .. 2**32 - 1 (what numpy accepts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} is out of range; a seed is 0 .. {MAX_SEED}")
    return value


def _refuse_constant(name: str) -> Any:
    raise NonFiniteNumberError(f"{name} is not valid JSON (JSON has no NaN or infinity)")


def _finite_json_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: valid JSON, but Python reads it as inf
        raise NonFiniteNumberError(f"{text} is too large a number")
    return value


def loads_finite_json(text: str) -> Any:
    """``json.loads`` that refuses NaN, Infinity and numbers that overflow a float (JSON has
    none of them; Python's json reads and writes them). Raises json.JSONDecodeError for text that
    is not JSON, NonFiniteNumberError for such a number."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_json_float)


def find_non_finite(value: Any, where: str = "", max_magnitude: float = MAX_MAGNITUDE) -> Optional[str]:
    """The path (``where.key[3]``) of the first NaN / infinite / huge float in a JSON-like value."""
    if isinstance(value, float):
        return (where or "value") if number_problem(value, max_magnitude) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_non_finite(item, f"{where}.{key}" if where else str(key), max_magnitude)
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = find_non_finite(item, f"{where}[{index}]", max_magnitude)
            if found:
                return found
    return None
