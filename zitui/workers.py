"""`zitui serve --workers N`: N server processes sharing one listening socket.

One Python process serves on one core. The parent binds the socket, opens the store once
(migrations and the first run happen there, once), then forks the workers, which accept on
the inherited socket; the kernel spreads connections between them. Everything a request
needs is in the store, so any worker can finish what another began (a login's pages, the
code exchange after it). What a worker caches checks the store for changes: signing keys
compare a version at most once a second (zitui/core/oidc/keys.py).

The parent only supervises: SIGTERM or SIGINT are passed on and it exits 0 once every worker
has finished its open requests; a worker that dies on its own stops the others and the
parent exits 1, so a service manager restarts the whole set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from types import FrameType

from zitui import metrics
from zitui.config import Settings
from zitui.core.services import open_services
from zitui.core.setup import SetupResult
from zitui.errors import ZituiError

log = logging.getLogger("zitui")


def serve_with_workers(settings: Settings) -> int:
    from zitui.metrics_listener import bind_metrics_socket
    from zitui.runner import bind_socket, first_run_line

    metrics_sock: socket.socket | None = None
    try:
        sock = bind_socket(settings)
        metrics_sock = bind_metrics_socket(settings)
        setup = asyncio.run(_prepare(settings))
    except ZituiError as exc:
        print(f"zitui: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("zitui: interrupted; nothing half-done was kept", file=sys.stderr)
        return 130
    if setup.generated_password:
        print(first_run_line(setup), flush=True)
    if settings.metrics_exposed:
        # Before the fork: every worker writes its figures where a scrape of any reads them.
        metrics.share_between_processes()
    # Nothing may run in other threads from here on: a fork copies only the calling thread.
    children: dict[int, int] = {}
    for index in range(settings.worker_count):
        pid = os.fork()
        if pid == 0:
            os._exit(_worker(settings, sock, metrics_sock))
        children[pid] = index
    sock.close()
    if metrics_sock is not None:
        metrics_sock.close()
    log.info("serving %s on %s with %d workers", settings.issuer, settings.listen, len(children))
    try:
        return _supervise(children)
    finally:
        metrics.stop_sharing()


async def _prepare(settings: Settings) -> SetupResult:
    services, setup = await open_services(settings)
    await services.close()
    return setup


def _worker(settings: Settings, sock: socket.socket, metrics_sock: socket.socket | None) -> int:
    import uvloop

    from zitui.runner import serve

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(serve(settings, sock, metrics_sock))
    except ZituiError as exc:
        print(f"zitui: worker {os.getpid()}: {exc.message}", file=sys.stderr)
        return 1
    except BaseException:
        log.exception("worker %d failed", os.getpid())
        return 1
    finally:
        logging.shutdown()


def _supervise(children: dict[int, int]) -> int:
    stopping = False
    status = 0

    def stop_all() -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        stop_all()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        children.pop(pid, None)
        code = os.waitstatus_to_exitcode(wait_status)
        if not stopping:
            log.error("worker %d ended with %d; stopping the others", pid, code)
            print(f"zitui: worker {pid} ended unexpectedly ({code}); stopping", file=sys.stderr)
            stopping, status = True, 1
            stop_all()
        elif code not in (0, -signal.SIGTERM):
            # A worker still setting up has no handler yet and ends by the SIGTERM we sent:
            # it served nothing, so that is a clean stop too.
            status = 1
    return status
