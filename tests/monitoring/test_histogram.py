import math
import random

from apps.monitoring import histogram
from apps.monitoring.fingerprint import fingerprint, normalize


def test_each_value_falls_in_the_bucket_whose_bounds_hold_it():
    for value in [0.05, 0.1, 0.11, 1.0, 3.7, 250.0, 12345.6]:
        index = histogram.bucket_index(value)
        assert histogram.bucket_lower(index) < value <= histogram.bucket_upper(index) or index == 0


def test_percentiles_of_merged_histograms_are_within_one_bucket_of_the_truth():
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1.2) for _ in range(5000)]
    # Two processes' histograms, merged as the roll-up merges them.
    first, second = {}, {}
    for number, value in enumerate(values):
        target = first if number % 2 else second
        index = histogram.bucket_index(value)
        target[index] = target.get(index, 0) + 1
    merged = histogram.merge(dict(first), {str(k): v for k, v in second.items()})
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        true = ordered[math.ceil(q * len(ordered)) - 1]
        estimate = histogram.quantile(merged, q)
        assert abs(histogram.bucket_index(estimate) - histogram.bucket_index(true)) <= 1


def test_quantile_of_nothing_is_none():
    assert histogram.quantile({}, 0.95) is None


def test_fingerprint_takes_the_values_out():
    a = normalize("SELECT * FROM t WHERE id = 42 AND name IN ('a', 'b') /*route='x'*/")
    b = normalize("SELECT * FROM t WHERE id = 7 AND name IN ('c')")
    assert a == b == "SELECT * FROM t WHERE id = ? AND name IN (?...)"
    assert fingerprint(a) == fingerprint(b)
    django_sql = 'SELECT "t"."c1" FROM "t" WHERE "t"."id" = %s'
    assert normalize(django_sql) == 'SELECT "t"."c1" FROM "t" WHERE "t"."id" = ?'
