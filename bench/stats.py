"""Summaries of timing samples: medians, percentiles and means, in milliseconds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

NS_PER_MS = 1_000_000


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The `fraction` percentile (0..1) of sorted values, by linear interpolation."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return sorted_values[low]
    weight = position - low
    return sorted_values[low] * (1 - weight) + sorted_values[high] * weight


@dataclass(frozen=True)
class Summary:
    """Order statistics of one measurement, in milliseconds."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    minimum: float
    maximum: float

    @classmethod
    def of_ms(cls, values_ms: Iterable[float]) -> Summary:
        """Summarise durations in milliseconds; NaNs (nothing measured) are left out."""
        values = sorted(value for value in values_ms if not math.isnan(value))
        if not values:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
        return cls(
            n=len(values),
            p50=statistics.median(values),
            p95=percentile(values, 0.95),
            p99=percentile(values, 0.99),
            mean=statistics.fmean(values),
            minimum=values[0],
            maximum=values[-1],
        )

    @classmethod
    def of_ns(cls, samples_ns: list[int]) -> Summary:
        """Summarise durations measured with `time.perf_counter_ns`."""
        return cls.of_ms(sample / NS_PER_MS for sample in samples_ns)


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero or missing."""
    if not denominator or math.isnan(denominator):
        return math.nan
    return numerator / denominator
