"""The histograms of ``/metrics`` as plain numbers, written out by the library when scraped.

`prometheus_client`'s `Histogram` takes a lock per value and tries its buckets one by one: about
1.7 µs an observation (4 µs with labels), a dozen or so per bid (each protocol-2 receiver's patch
size, each request, each write): 2.3 to 2.6% of the server's samples under ``bench_gateway.py
--only subscribed`` (py-spy; README.md, `/metrics`). Here an observation is a bisection into a
tuple of bounds, an increment of one count in a list and an addition to a float, without a lock:

- every histogram is written by one thread only: the event loop's, but for the store's commits,
  observed on the SQLite writer connection's thread (`SqliteEventStore`: one batch at a time,
  each awaited before the next is written), and written by nobody else; so no increment is lost
  (only one thread ever writes them) and a scrape, on the event loop, reads each number whole;
- like the library's own (one lock per value, none across them), a scrape may see half of an
  observation, and never any worse: the library adds to the sum first, so its scrapes can show a
  sum without its count; here the count is increased first, so a scrape can show a count without
  its sum (the mirror image).

`Histograms` is the `Collector` that writes them out with the samples the library's
`Histogram` writes: ``_bucket`` (cumulative, by ``le`` as the library spells it), ``_count``,
``_sum`` and ``_created`` (unless the library's created series are turned off), a labelled
histogram's label sets in the order they were first observed, each with its own ``_created``.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import metrics as library
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class Series:
    """One histogram's numbers (a labelled one's: one label set's): the observations in each
    bucket (not cumulative; the last one is +Inf's), their sum, and when it began (as
    ``time.time``)."""

    __slots__ = ("counts", "created", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        self.sum = 0.0
        self.created = time.time()


class Histogram:
    """A histogram with the upper bounds ``buckets`` (+Inf added), by ``labelnames`` if any.

    An observation ``amount`` counts in the first bucket whose bound is at least ``amount``, as
    in the library's (which counts a NaN in no bucket, this one in the first: none is observed
    here)."""

    __slots__ = ("_les", "_one", "bounds", "documentation", "labelnames", "name", "series")

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float],
        labelnames: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(float(b) for b in buckets if b != math.inf)
        if list(self.bounds) != sorted(self.bounds):
            raise ValueError("buckets not in sorted order")
        # Each bound as the library writes it in ``le`` (its function is untyped).
        self._les = (*(floatToGoString(b) for b in self.bounds), "+Inf")  # type: ignore[no-untyped-call]
        # By label values; an unlabelled histogram has the one series, from the start.
        self.series: dict[tuple[str, ...], Series] = {}
        self._one = None if labelnames else self._series(())

    def observe(self, amount: float) -> None:
        """An observation of an unlabelled histogram."""
        one = self._one
        assert one is not None, "a labelled histogram is observed with `observe_labelled`"
        one.counts[bisect_left(self.bounds, amount)] += 1
        one.sum += amount

    def observe_labelled(self, labels: tuple[str, ...], amount: float) -> None:
        """An observation of the series of ``labels`` (values of ``labelnames``, in order)."""
        series = self.series.get(labels) or self._series(labels)
        series.counts[bisect_left(self.bounds, amount)] += 1
        series.sum += amount

    def _series(self, labels: tuple[str, ...]) -> Series:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name}: {len(self.labelnames)} label values expected")
        series = self.series[labels] = Series(len(self.bounds) + 1)
        return series

    def family(self) -> Metric:
        """The histogram as the library's `Histogram` collects it."""
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        # The library's switch (`disable_created_metrics`), private: read without failing if a
        # later version renames it (the created series are then written, the library's default).
        created = getattr(library, "_use_created", True)
        for labels, series in list(self.series.items()):
            counts, total = list(series.counts), series.sum
            buckets: list[tuple[str, float]] = []
            acc = 0.0
            for le, count in zip(self._les, counts, strict=True):
                acc += count
                buckets.append((le, acc))
            family.add_metric(labels, buckets, total)
            if created:
                named = dict(zip(self.labelnames, labels, strict=True))
                family.add_sample(f"{self.name}_created", named, series.created)
        return family


class Histograms(Collector):
    """Writes out ``histograms`` when the registry is collected, in their order."""

    def __init__(self, *histograms: Histogram) -> None:
        self.histograms = histograms

    def collect(self) -> Iterator[Metric]:
        for histogram in self.histograms:
            yield histogram.family()
