"""Prometheus metrics: what zitui counts, and their text exposition.

Every layer may count here (the core its sign-ins and deliveries, the store its errors, the
server its requests); nothing here imports a layer. One process keeps its figures in memory.
`zitui serve --workers N` calls `share_between_processes` in the parent before it forks:
each worker then writes its figures to memory-mapped files in one directory, and a scrape
answered by any worker adds up every worker's files (prometheus_client's multiprocess mode).
Figures read from the store (the outbox) are not counted here: the scrape reads them fresh
and hands them to `exposition` as extra families.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    values,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# prometheus_client reads its multiprocess directory from this variable, in every process.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# From a prepared token lookup (~1 ms) to a slow store (seconds).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# A request no route matched is counted under this label, never under its raw path.
UNMATCHED = "unmatched"

# A `_created` timestamp beside every counter doubles the output for nothing Prometheus uses.
disable_created_metrics()


@dataclass
class Instruments:
    sign_ins: Counter
    sign_in_failures: Counter
    factor_checks: Counter
    tokens: Counter
    request_seconds: Histogram
    hash_waiting: Gauge
    delivery_failures: Counter
    store_errors: Counter
    # Request histograms by (route, method, status): `labels()` takes a lock and builds a key,
    # which the hot endpoints need not pay on every call.
    _request_children: dict[tuple[str, str, int], Histogram] = field(default_factory=dict)

    def request_child(self, route: str, method: str, status: int) -> Histogram:
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:
            child = self.request_seconds.labels(route=route, method=method, status=str(status))
            self._request_children[key] = child
        return child


def _make(registry: CollectorRegistry | None) -> Instruments:
    """The instruments; in the multiprocess mode they belong to no registry (the files are
    what a scrape reads)."""
    return Instruments(
        sign_ins=Counter(
            "zitui_sign_ins",
            "Successful first-factor sign-ins, by method",
            ["method"],
            registry=registry,
        ),
        sign_in_failures=Counter(
            "zitui_sign_in_failures",
            "Failed sign-in checks, by reason",
            ["reason"],
            registry=registry,
        ),
        factor_checks=Counter(
            "zitui_factor_checks",
            "Second-factor and code checks, by factor and result",
            ["factor", "result"],
            registry=registry,
        ),
        tokens=Counter(
            "zitui_tokens_issued",
            "Token endpoint responses that issued tokens, by grant type",
            ["grant_type"],
            registry=registry,
        ),
        request_seconds=Histogram(
            "zitui_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        hash_waiting=Gauge(
            "zitui_password_hash_queue",
            "Password hashes waiting for a hashing slot",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        delivery_failures=Counter(
            "zitui_notification_delivery_failures",
            "Failed delivery attempts of mails and SMS, by channel and outcome",
            ["channel", "outcome"],
            registry=registry,
        ),
        store_errors=Counter(
            "zitui_store_errors",
            "Database failures (StoreUnavailable), by code",
            ["code"],
            registry=registry,
        ),
    )


class _State:
    def __init__(self) -> None:
        self.directory: Path | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self.instruments: Instruments | None = None


_state = _State()


def instruments() -> Instruments:
    """The process's instruments, made on first use in the mode then in force."""
    if _state.instruments is None:
        registry = None if _state.directory is not None else _state.registry
        _state.instruments = _make(registry)
    return _state.instruments


def share_between_processes(directory: Path | None = None) -> Path:
    """Switch to the multiprocess mode, before any worker is forked; the directory used.

    The directory (a new private one in the temporary directory by default) is emptied: the
    figures of an earlier run must not add to this one's. Child processes inherit it.
    """
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="zitui-metrics-"))
    else:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()
    _state.directory = directory
    _state.instruments = None
    return directory


def stop_sharing() -> None:
    """Back to figures in memory, and the directory of the multiprocess mode removed."""
    directory = _state.directory
    os.environ.pop(MULTIPROC_ENV, None)
    values.ValueClass = values.MutexValue
    _state.directory = None
    _state.registry = CollectorRegistry(auto_describe=True)
    _state.instruments = None
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def shared_directory() -> Path | None:
    return _state.directory


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self._families


class _Counted(Collector):
    def collect(self) -> Iterator[Metric]:
        instruments()  # every family appears, at zero, before its first count
        if _state.directory is not None:
            yield from MultiProcessCollector(None, path=str(_state.directory)).collect()
        else:
            yield from _state.registry.collect()


def exposition(extra: Iterable[Metric] = ()) -> bytes:
    """The Prometheus text format of every worker's figures and the `extra` families."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Counted())
    registry.register(_Families(extra))
    return generate_latest(registry)


# What the layers call: each is a counter step, cheap enough for the hot paths.


def count_sign_in(method: str) -> None:
    instruments().sign_ins.labels(method=method).inc()


def count_sign_in_failure(reason: str) -> None:
    instruments().sign_in_failures.labels(reason=reason).inc()


def count_factor_check(factor: str, result: str) -> None:
    instruments().factor_checks.labels(factor=factor, result=result).inc()


def count_token(grant_type: str) -> None:
    instruments().tokens.labels(grant_type=grant_type).inc()


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    instruments().request_child(route, method, status).observe(seconds)


def set_hash_queue(waiting: int) -> None:
    instruments().hash_waiting.set(waiting)


def count_delivery_failure(channel: str, outcome: str) -> None:
    instruments().delivery_failures.labels(channel=channel, outcome=outcome).inc()


def count_store_error(code: str) -> None:
    instruments().store_errors.labels(code=code).inc()
