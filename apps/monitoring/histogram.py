"""Fixed log-scale histogram buckets and percentile math (pure; no Django).

Bucket ``i`` holds values in (MIN_MS * FACTOR**(i-1), MIN_MS * FACTOR**i]; bucket 0 holds
everything up to MIN_MS. With FACTOR = 2**(1/4) a bucket is about 19% wide, so a
percentile read from merged buckets is within one bucket (< 19%) of the true value, and
any number of histograms (processes, minutes, hours) merge by adding counts.
"""

import math
from collections.abc import Iterable, Mapping

MIN_MS = 0.1
FACTOR = 2**0.25
MAX_INDEX = 140  # 0.1 ms * 2**35 ≈ 40 days: nothing we time is longer
_LOG_FACTOR = math.log(FACTOR)


def bucket_index(value: float) -> int:
    if value <= MIN_MS:
        return 0
    # The small epsilon keeps an exact bound (0.2 ms, 1 ms, …) in its own bucket.
    index = math.ceil(math.log(value / MIN_MS) / _LOG_FACTOR - 1e-9)
    return min(index, MAX_INDEX)


def bucket_upper(index: int) -> float:
    return MIN_MS * FACTOR**index


def bucket_lower(index: int) -> float:
    return 0.0 if index <= 0 else bucket_upper(index - 1)


def merge(into: dict[int, int], other: Mapping) -> dict[int, int]:
    """Add ``other``'s counts into ``into``; keys of either may be str, as stored in JSON
    (a "3" and a 3 are the same bucket)."""
    for key in [key for key in into if not isinstance(key, int)]:
        into[int(key)] = into.get(int(key), 0) + int(into.pop(key))
    for index, count in other.items():
        index = int(index)
        into[index] = into.get(index, 0) + int(count)
    return into


def quantile(buckets: Mapping, q: float, *, max_value: float | None = None) -> float | None:
    """The value at quantile ``q`` (0..1): the geometric middle of the bucket holding that rank."""
    counts = sorted((int(index), int(count)) for index, count in buckets.items() if int(count) > 0)
    total = sum(count for _, count in counts)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in counts:
        seen += count
        if seen >= rank:
            value = bucket_upper(0) if index == 0 else math.sqrt(bucket_lower(index) * bucket_upper(index))
            if max_value is not None:
                value = min(value, max_value)
            return value
    return None  # pragma: no cover (rank <= total)


def quantiles(buckets: Mapping, qs: Iterable[float], *, max_value: float | None = None) -> list[float | None]:
    return [quantile(buckets, q, max_value=max_value) for q in qs]
