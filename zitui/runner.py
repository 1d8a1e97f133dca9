"""Running the faces: the server alone, the TUI alone, or both in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from zitui.config import Settings, split_listen
from zitui.core.services import Services, open_services
from zitui.core.setup import SetupResult
from zitui.errors import StoreUnavailable, ZituiError

log = logging.getLogger("zitui")


class EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves signals to us.

    uvicorn's own handling re-raises SIGTERM after a graceful shutdown, which would end the
    process with a signal instead of exit code 0, and in `start` it would steal Ctrl-C from
    the TUI. We set `should_exit` ourselves.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(settings: Settings) -> socket.socket:
    """Bind the listen address now, so a port in use is one clear error before anything runs."""
    return bind_address(settings.listen)


def bind_address(listen: str) -> socket.socket:
    """Bind `listen` (HOST:PORT); a port in use is StoreUnavailable("listen.unavailable")."""
    host, port = split_listen(listen)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        reason = "the port is in use" if exc.errno == 98 else (exc.strerror or str(exc))
        raise StoreUnavailable(
            "listen.unavailable", f"cannot listen on {listen}: {reason}"
        ) from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def make_server(settings: Settings, services: Services | None) -> EmbeddedServer:
    from zitui.server.app import create_app
    from zitui.server.protocol import BoundedHttpToolsProtocol

    config = uvicorn.Config(
        create_app(settings, services),
        http=BoundedHttpToolsProtocol,
        log_config=None,
        access_log=settings.access_log,
        lifespan="on",
        timeout_graceful_shutdown=10,
        proxy_headers=False,
    )
    return EmbeddedServer(config)


def first_run_line(setup: SetupResult) -> str:
    return (
        f"zitui: first run: administrator {setup.admin_login_name}, password "
        f"{setup.generated_password} (shown once; change it at first sign-in)"
    )


async def serve(
    settings: Settings,
    sock: socket.socket | None = None,
    metrics_sock: socket.socket | None = None,
) -> int:
    """The server alone; SIGTERM or SIGINT finish the open requests, then exit 0.

    A worker of `zitui serve --workers` gets the sockets its parent bound (the metrics one
    when `metrics_listen` is set), and a store the parent has already set up.
    """
    from zitui.metrics_listener import bind_metrics_socket, serving_metrics
    from zitui.ssh.server import serving_ssh

    worker = sock is not None
    sock = sock or bind_socket(settings)
    try:
        if not worker:
            metrics_sock = bind_metrics_socket(settings)
        services, setup = await open_services(settings)
    except BaseException:
        sock.close()
        if metrics_sock is not None:
            metrics_sock.close()
        raise
    try:
        if setup.generated_password and not worker:
            print(first_run_line(setup), flush=True)
        server = make_server(settings, services)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, _request_exit, server)
        log.info("serving %s on %s", settings.issuer, settings.listen)
        async with (
            serving_metrics(settings, services, metrics_sock),
            serving_ssh(settings, services, enabled=not worker),
        ):
            await server.serve(sockets=[sock])
        return 0 if server.started else 1
    finally:
        await services.close()
        sock.close()
        if metrics_sock is not None:
            metrics_sock.close()


def _request_exit(server: uvicorn.Server) -> None:
    server.should_exit = True


async def apply(settings: Settings, blueprint: Path, out: Path | None) -> int:
    """Apply a blueprint file in one transaction (`zitui apply`); no server runs."""
    from zitui.blueprint.command import run_apply

    return await run_apply(settings, blueprint, out)


async def recover(settings: Settings, login_name: str) -> int:
    """Unlock a user and give them a one-time password (`zitui recover`); a server may run."""
    from zitui.core.recovery import ORIGIN, recover_user

    services, _ = await open_services(settings, first_run=False)
    try:
        done = await recover_user(
            services.store, services.hasher, services.system_context(ORIGIN), login_name
        )
    finally:
        await services.close()
    unlocked = " (unlocked)" if done.unlocked else ""
    print(
        f"zitui: recovered {done.user.login_name}{unlocked}; one-time password "
        f"{done.password} (shown once; change it at first sign-in)",
        flush=True,
    )
    return 0


async def run_tui(settings: Settings) -> int:
    """The TUI alone, against the data directory (another process may be serving it)."""
    opened = await _open_for_tui(settings)
    if isinstance(opened, ZituiError):
        return await _show_fatal(opened)
    services, setup = opened
    try:
        from zitui.screens.app import make_app

        app = make_app(services, setup=setup)
        await app.run_async()
        return app.return_code or 0
    finally:
        await services.close()


async def start(settings: Settings) -> int:
    """Server and TUI in one loop; quitting the TUI stops the server after its requests."""
    from zitui.metrics_listener import bind_metrics_socket, serving_metrics

    sock = bind_socket(settings)
    metrics_sock: socket.socket | None = None
    try:
        metrics_sock = bind_metrics_socket(settings)
        opened = await _open_for_tui(settings)
        if isinstance(opened, ZituiError):
            return await _show_fatal(opened)
        services, setup = opened
        try:
            async with serving_metrics(settings, services, metrics_sock):
                return await _run_both(settings, services, setup, sock)
        finally:
            await services.close()
    finally:
        sock.close()
        if metrics_sock is not None:
            metrics_sock.close()


async def _run_both(
    settings: Settings, services: Services, setup: SetupResult, sock: socket.socket
) -> int:
    from zitui.screens.app import make_app
    from zitui.ssh.server import serving_ssh

    async with serving_ssh(settings, services):
        server = make_server(settings, services)
        server_task = asyncio.create_task(server.serve(sockets=[sock]), name="zitui-server")
        app = make_app(services, setup=setup)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, app.exit)
        try:
            await app.run_async()
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            server.should_exit = True
            await server_task
    return app.return_code or 0


async def _open_for_tui(settings: Settings) -> tuple[Services, SetupResult] | ZituiError:
    try:
        return await open_services(settings)
    except (StoreUnavailable, ZituiError) as exc:
        if not sys.stdout.isatty():
            raise
        return exc


async def _show_fatal(error: ZituiError) -> int:
    from zitui.screens.app import make_app

    app = make_app(None, fatal=error)
    await app.run_async()
    print(f"zitui: {error.message}", file=sys.stderr)
    return 1
