"""Serving HTTP: waitress's loop with a clean shutdown, and several web processes sharing one
listening socket (``integra up --workers N``).

One Python process runs Python code on one core at a time. With ``--workers N`` the services
process (provisioning, the bus services, connectors, simulators) binds the public port and
starts N web processes that inherit the listening socket; the kernel hands each new connection
to one of them. The services process keeps them running (a worker that dies is replaced) and
serves the connectors' webhook callbacks and the partner simulators on a loopback port of its
own; the web processes forward those paths there (``gateway.forward``), so every path answers
on the public port whichever process accepted the connection.

Shared between the processes through the tenant databases: staff sessions, the login
throttle, everything else; the metrics through files in ``var/metrics`` (prometheus_client's
multiprocess mode), so /metrics shows the sum whichever process answers.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

log = logging.getLogger(__name__)


def serve_until_stopped(
    server: Any,
    connections: dict[int, Any],
    stop: threading.Event,
    *,
    grace: float = 10.0,
    tick: Callable[[], None] | None = None,
) -> None:
    """Run waitress's event loop until ``stop`` is set, then drain: stop accepting, let the
    requests in progress finish (``grace`` seconds at most) and close every connection.
    ``tick`` runs about once a second meanwhile (supervising web workers).

    Not ``server.run()``: that returns only once no connection is left, so after SIGTERM one
    idle keep-alive connection (a browser keeps several) held the process up to waitress's
    two-minute channel timeout.
    """
    while not stop.is_set():
        wasyncore.loop(timeout=1.0, map=connections, count=1)
        if tick is not None:
            tick()
    for listener in [c for c in connections.values() if isinstance(c, BaseWSGIServer)]:
        # Only the listening socket: the worker threads still wake the loop through the trigger.
        wasyncore.dispatcher.close(listener)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        channels = [c for c in list(connections.values()) if isinstance(c, HTTPChannel)]
        if not channels:
            break
        for channel in channels:
            if not channel.requests:
                channel.will_close = True  # what waitress's own idle-timeout maintenance does
        wasyncore.loop(timeout=0.05, map=connections, count=1)
    server.task_dispatcher.shutdown(timeout=max(0.0, deadline - time.monotonic()))
    wasyncore.close_all(connections)


def listening_socket(host: str, port: int, *, backlog: int = 1024) -> socket.socket:
    """The public port, bound and listening before any worker starts: connections that arrive
    while the workers import wait in the backlog instead of being refused."""
    sock = socket.create_server((host, port), backlog=backlog)
    sock.set_inheritable(True)
    return sock


def serve_socket(
    app: Any, sock: socket.socket, *, threads: int, stop: threading.Event, ident: str = "integra"
) -> None:
    """Serve ``app`` from an inherited listening socket until ``stop`` is set."""
    connections: dict[int, Any] = {}
    server = create_server(app, map=connections, sockets=[sock], threads=threads, ident=ident)
    serve_until_stopped(server, connections, stop)


def stop_on_signals(stop: threading.Event, first: Callable[[], None] | None = None) -> None:
    """SIGTERM and SIGINT set ``stop``, after calling ``first`` (quick, must not block)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: shutting down", signum)
        if first is not None:
            first()
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def stop_with_parent(stop: threading.Event, parent: int, *, interval: float = 1.0) -> None:
    """Set ``stop`` when ``parent``, the process that started this one, is gone (killed
    without a chance to stop its workers): an orphaned worker would otherwise keep the port.
    ``parent`` comes from the parent itself: it may have died before this process got here."""

    def watch() -> None:
        while not stop.wait(interval):
            if os.getppid() != parent:
                log.warning("parent process %s is gone: stopping", parent)
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@dataclass
class WebWorkers:
    """N web processes serving ``sock``; each is started with ``command(fd)`` and replaced
    when it exits while the workers are meant to run."""

    sock: socket.socket
    count: int
    command: Callable[[int], Sequence[str]]
    env: dict[str, str] | None = None
    #: A worker that dies sooner than this after its start counts as a crash at start-up;
    #: ``max_quick_deaths`` of those in a row mean something is wrong with every worker.
    quick_death: float = 5.0
    max_quick_deaths: int = 5
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _started: list[float] = field(default_factory=list)
    _quick_deaths: int = 0

    def _spawn(self) -> subprocess.Popen[bytes]:
        fd = self.sock.fileno()
        command = list(self.command(fd))  # our own interpreter and module, no shell
        return subprocess.Popen(command, pass_fds=(fd,), env=self.env)  # noqa: S603

    def start(self) -> None:
        for _ in range(self.count):
            self.processes.append(self._spawn())
            self._started.append(time.monotonic())

    def check(self) -> None:
        """Replace every worker that has exited. Raises RuntimeError when workers keep dying
        right after their start (a broken installation: restarting would only spin)."""
        for index, process in enumerate(self.processes):
            code = process.poll()
            if code is None:
                continue
            lived = time.monotonic() - self._started[index]
            self._quick_deaths = self._quick_deaths + 1 if lived < self.quick_death else 0
            if self._quick_deaths >= self.max_quick_deaths:
                raise RuntimeError(
                    f"web workers keep exiting right after their start (last status {code})"
                )
            log.warning("web worker %s exited with status %s: starting another", process.pid, code)
            forget_metrics_of(process.pid)
            self.processes[index] = self._spawn()
            self._started[index] = time.monotonic()

    def stop(self, *, grace: float = 15.0) -> None:
        """SIGTERM every worker (each drains its requests in progress), SIGKILL what is left
        after ``grace`` seconds."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("web worker %s did not stop in %ss: killing it", process.pid, grace)
                process.kill()
                process.wait()


def forget_metrics_of(pid: int) -> None:
    """A dead process's live gauges (tenant apps loaded) leave the sum; its counters stay."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, folder)


def worker_command(
    fd: int,
    *,
    threads: int,
    forward_to: str,
    prefixes: Sequence[str],
    demo: str | None = None,
) -> list[str]:
    """The command line of one ``integra up`` web worker (the hidden ``integra web-worker``)."""
    command = [sys.executable, "-m", "deploy.cli", "web-worker", "--fd", str(fd)]
    command += ["--parent", str(os.getpid())]
    command += ["--threads", str(threads), "--forward-to", forward_to]
    for prefix in prefixes:
        command += ["--forward", prefix]
    if demo:
        command += ["--demo", demo]
    return command
