"""Medians, ratios, the interleaved run order and the results table. No fairseq import."""
import math
import statistics
from typing import Dict, List, Optional, Sequence


def median(values: Sequence[float]) -> float:
    values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not values:
        raise ValueError("median of no measurements")
    return statistics.median(values)


def ratio(plugin: float, stock: float) -> float:
    """plugin / stock; for times, below 1 means the plugin is faster."""
    if stock == 0:
        raise ZeroDivisionError("stock figure is 0: nothing to compare against")
    return plugin / stock


def interleaved_order(repeats: int, sides: Sequence[str] = ("plugin", "stock")) -> List[str]:
    """ABAB...: one run of each side per repeat, alternating, so that a slow spell of a
    shared machine hits every side instead of one."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not sides:
        raise ValueError("no sides to run")
    return [name for _ in range(repeats) for name in sides]


def verdict(value: float, target: float, lower_is_better: bool) -> str:
    met = value <= target if lower_is_better else value >= target
    if met:
        return "met"
    miss = value / target if lower_is_better else target / value
    return f"missed ({miss:.2f}x off)"


def format_table(rows: List[Dict[str, str]], columns: Optional[List[str]] = None) -> str:
    """A Markdown table (also readable on a terminal)."""
    if not rows:
        return ""
    columns = columns or list(rows[0])
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"
    out = [line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(r) for r in cells)
    return "\n".join(out)
