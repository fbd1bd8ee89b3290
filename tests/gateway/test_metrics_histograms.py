"""`/metrics`'s histograms (`gateway.histograms`) write out what `prometheus_client`'s own
`Histogram` writes for the same observations, byte for byte: bucket edges (a value on a bound
counts in that bucket), label sets in the order first seen, ``_created`` (its times aside)."""

from __future__ import annotations

import re

import prometheus_client
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from auctionactors.gateway.histograms import Histogram, Histograms
from auctionactors.gateway.metrics import BYTES, COUNTS, SECONDS

CREATED = re.compile(r"^(\S+_created(?:\{[^}]*\})?) \S+$", re.MULTILINE)

seconds = st.one_of(
    st.sampled_from(SECONDS),  # on a bound
    st.floats(min_value=0, max_value=30, allow_nan=False),
    st.integers(min_value=0, max_value=20),
)
sizes = st.one_of(st.sampled_from(COUNTS + BYTES), st.integers(min_value=0, max_value=2_000_000))
requests = st.tuples(st.sampled_from(["place_bids", "subscribe"]), st.sampled_from(["ok", "x"]))


def _text(registry: CollectorRegistry) -> str:
    """The exposition, each ``_created`` time replaced by a mark (they are the clock's)."""
    return CREATED.sub(r"\1 T", generate_latest(registry).decode())


@given(
    st.lists(seconds, max_size=30),
    st.lists(sizes, max_size=30),
    st.lists(st.tuples(requests, seconds), max_size=30),
)
def test_the_exposition_is_the_librarys(
    latencies: list[float], counts: list[int], labelled: list[tuple[tuple[str, str], float]]
) -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    name, help_ = "t_seconds", "Some latency."
    library = prometheus_client.Histogram(name, help_, buckets=SECONDS, registry=theirs)
    library_counts = prometheus_client.Histogram(
        "t_size", "A size.", buckets=(*COUNTS, 1e6), registry=theirs
    )
    library_labelled = prometheus_client.Histogram(
        "t_requests", "By type and outcome.", ["type", "outcome"], buckets=SECONDS, registry=theirs
    )
    mine = Histogram(name, help_, SECONDS)
    mine_counts = Histogram("t_size", "A size.", (*COUNTS, 1e6))
    mine_labelled = Histogram("t_requests", "By type and outcome.", SECONDS, ["type", "outcome"])
    ours.register(Histograms(mine, mine_counts, mine_labelled))
    for amount in latencies:
        library.observe(amount)
        mine.observe(amount)
    for count in counts:
        library_counts.observe(count)
        mine_counts.observe(count)
    for labels, amount in labelled:
        library_labelled.labels(*labels).observe(amount)
        mine_labelled.observe_labelled(labels, amount)
    assert _text(ours) == _text(theirs)


def test_created_and_its_switch() -> None:
    registry = CollectorRegistry()
    plain = Histogram("t_bytes", "Sizes.", BYTES)
    labelled = Histogram("t_seconds", "By type.", SECONDS, ["type"])
    registry.register(Histograms(plain, labelled))
    labelled.observe_labelled(("a",), 0.001)
    assert registry.get_sample_value("t_bytes_created") == plain.series[()].created
    assert registry.get_sample_value("t_seconds_created", {"type": "a"}) is not None
    assert registry.get_sample_value("t_seconds_count", {"type": "a"}) == 1.0
    was = prometheus_client.metrics._use_created
    prometheus_client.disable_created_metrics()
    try:
        assert "_created" not in generate_latest(registry).decode()
    finally:
        prometheus_client.metrics._use_created = was


def test_refused() -> None:
    with pytest.raises(ValueError):
        Histogram("t", "Unsorted.", (2, 1))
    labelled = Histogram("t", "By type.", SECONDS, ["type"])
    with pytest.raises(ValueError):
        labelled.observe_labelled(("a", "b"), 1)
