"""``serve``'s and ``demo``'s event loop (uvloop when installed) and the gateway limits that
``serve`` lets an operator raise (a load test needs more than the defaults)."""

from __future__ import annotations

import asyncio
import importlib

import pytest

from auctionactors.cli import build_parser, daemon
from auctionactors.errors import UsageError
from auctionactors.gateway.server import GatewayConfig


async def _which() -> int:
    return 1 if daemon.loop_name() == "uvloop" else 0


def _has_uvloop() -> bool:
    try:
        importlib.import_module("uvloop")
    except ImportError:
        return False
    return True


def test_asyncio_on_request() -> None:
    assert daemon.run_loop(_which(), "asyncio") == 0


def test_auto_takes_uvloop_when_installed() -> None:
    assert daemon.run_loop(_which(), "auto") == (1 if _has_uvloop() else 0)


def test_insisting_on_a_missing_uvloop_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def no_uvloop(name: str, package: str | None = None) -> object:
        if name == "uvloop":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_uvloop)
    main = _which()
    with pytest.raises(UsageError, match="uvloop is not installed"):
        daemon.run_loop(main, "uvloop")
    assert daemon.run_loop(_which(), "auto") == 0  # auto falls back to asyncio


def test_serve_defaults_are_the_gateways() -> None:
    args = build_parser().parse_args(["serve", "--port", "0"])
    config = daemon.gateway_config(args)
    defaults = GatewayConfig()
    assert (config.host, config.port) == ("127.0.0.1", 0)
    assert config.rate_per_s == defaults.rate_per_s
    assert config.burst == defaults.burst
    assert config.outbox_size == defaults.outbox_size
    assert config.max_connections_per_token == defaults.max_connections_per_token
    assert args.loop == "auto"


def test_serve_limits_can_be_raised() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--rate",
            "5000",
            "--outbox",
            "100000",
            "--max-connections-per-token",
            "2000",
            "--loop",
            "asyncio",
        ]
    )
    config = daemon.gateway_config(args)
    assert (config.rate_per_s, config.burst) == (5000.0, 5000.0)
    assert config.outbox_size == 100_000
    assert config.max_connections_per_token == 2000
    assert args.loop == "asyncio"


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--rate", "0"],
        ["serve", "--outbox", "-1"],
        ["serve", "--max-connections-per-token", "x"],
        ["serve", "--loop", "trio"],
        ["demo", "--port", "70000"],
    ],
)
def test_bad_limits_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        build_parser().parse_args(argv)


def test_demo_takes_host_port_and_loop() -> None:
    args = build_parser().parse_args(["demo", "--port", "0", "--host", "127.0.0.2"])
    assert (args.host, args.port, args.loop) == ("127.0.0.2", 0, "auto")


def test_loop_name_outside_uvloop() -> None:
    assert asyncio.run(_which()) == 0


def test_serve_flood_limits() -> None:
    defaults = GatewayConfig()
    config = daemon.gateway_config(build_parser().parse_args(["serve"]))
    assert config.max_unauthenticated_per_address == defaults.max_unauthenticated_per_address
    assert config.creates_per_hour == defaults.creates_per_hour == 360
    args = ["serve", "--max-unauthenticated-per-address", "4", "--create-rate", "10"]
    config = daemon.gateway_config(build_parser().parse_args(args))
    assert (config.max_unauthenticated_per_address, config.creates_per_hour) == (4, 10)
    assert config.max_open_auctions == defaults.max_open_auctions == 1000
    args = ["serve", "--create-rate", "0", "--max-open-auctions", "0"]
    config = daemon.gateway_config(build_parser().parse_args(args))
    assert (config.creates_per_hour, config.max_open_auctions) == (None, None)
    args = ["serve", "--max-open-auctions", "7"]
    assert daemon.gateway_config(build_parser().parse_args(args)).max_open_auctions == 7


def test_serve_http_options() -> None:
    config = daemon.gateway_config(build_parser().parse_args(["serve"]))
    assert (config.public_origins, config.metrics_token) == ((), None)
    args = ["serve", "--host", "0.0.0.0", "--public-origin", "https://a.example"]
    args += ["--public-origin", "https://b.example:8443", "--metrics-token", "tok"]
    config = daemon.gateway_config(build_parser().parse_args(args))
    assert config.public_origins == ("https://a.example", "https://b.example:8443")
    assert config.metrics_token == "tok"
