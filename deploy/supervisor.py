"""Processes per role on PostgreSQL + RabbitMQ: ``integra up`` starts web processes and one
worker process per bus role (``deploy.process_types``), restarts one that dies (with a backoff
that grows while it keeps dying quickly), and stops them all on Ctrl-C or SIGTERM.
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
from dataclasses import dataclass, field
from typing import Any

import click

from deploy.process_types import AGREEMENTS_WORKER, CONNECTORS_WORKER, ProcessType
from deploy.web import listening_socket, stop_on_signals, worker_command
from services.agreements.context import DemoMark
from tenants.registry import Registry
from tenants.settings import Settings

log = logging.getLogger(__name__)

#: A process that lived shorter than this counts as a quick death: the restart waits longer.
QUICK_DEATH = 10.0
FIRST_RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 30.0


@dataclass
class Supervised:
    name: str
    command: list[str]
    pass_fds: tuple[int, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_deaths: int = 0
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    """Keeps a set of processes running until :meth:`stop`."""

    env: dict[str, str] | None = None
    members: list[Supervised] = field(default_factory=list)

    def add(self, name: str, command: list[str], pass_fds: tuple[int, ...] = ()) -> Supervised:
        member = Supervised(name, command, pass_fds)
        self.members.append(member)
        return member

    def _spawn(self, member: Supervised) -> None:
        member.process = subprocess.Popen(  # noqa: S603 - our own interpreter, no shell
            member.command, pass_fds=member.pass_fds, env=self.env
        )
        member.started = time.monotonic()
        member.restart_at = None

    def start(self) -> None:
        for member in self.members:
            self._spawn(member)

    def check(self) -> None:
        """Restart what has exited, after its backoff."""
        now = time.monotonic()
        for member in self.members:
            if member.restart_at is not None:
                if now >= member.restart_at:
                    member.restarts += 1
                    self._spawn(member)
                continue
            code = member.process.poll() if member.process else 0
            if code is None:
                continue
            lived = now - member.started
            member.quick_deaths = member.quick_deaths + 1 if lived < QUICK_DEATH else 0
            delay = min(MAX_RESTART_DELAY, FIRST_RESTART_DELAY * 2**member.quick_deaths)
            log.warning("%s exited with status %s: restarting in %.1fs", member.name, code, delay)
            click.echo(
                f"integra: {member.name} exited ({code}); restarting in {delay:.1f}s", err=True
            )
            member.restart_at = now + delay

    def stop(self, *, grace: float = 15.0) -> None:
        running = [m.process for m in self.members if m.process and m.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_command(kind: ProcessType, *extra: str) -> list[str]:
    return [sys.executable, "-m", "deploy.cli", *kind.args, "--parent", str(os.getpid()), *extra]


def run_processes(
    settings: Settings,
    registry: Registry,
    *,
    port: int,
    workers: int,
    threads: int,
    simulate: bool,
    demo: DemoMark | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Web processes on the public port and one worker per bus role, supervised."""
    stop = stop or threading.Event()
    public = listening_socket(settings.host, port)
    internal_port = _free_port()
    internal = f"http://127.0.0.1:{internal_port}"
    prefixes = ["/sim"] + [f"/t/{t.slug}/agency" for t in registry.enabled()]
    supervisor = Supervisor()
    supervisor.add("worker-agreements", process_command(AGREEMENTS_WORKER))
    flags = ["--port", str(internal_port)] + (["--simulate"] if simulate else [])
    supervisor.add("worker-connectors", process_command(CONNECTORS_WORKER, *flags))
    fd = public.fileno()
    for n in range(workers):
        command = worker_command(
            fd,
            threads=threads,
            forward_to=internal,
            prefixes=prefixes,
            demo=demo.value if demo else None,
        )
        supervisor.add(f"web-{n + 1}", command, pass_fds=(fd,))
    stop_on_signals(stop)
    supervisor.start()
    click.echo(
        f"Serving {len(registry.enabled())} tenants on http://{settings.host}:{port}/t/<tenant>/ "
        f"({workers} web processes, worker-agreements, worker-connectors)"
    )
    try:
        while not stop.wait(0.5):
            supervisor.check()
    finally:
        supervisor.stop()
        public.close()
    return 0


def run_worker(
    settings: Settings,
    registry: Registry,
    *,
    role: str,
    parent: int | None,
    port: int,
    simulate: bool,
) -> int:
    """One worker process: ``role``'s bus services of every enabled tenant on one shared
    runtime; the connectors worker also serves the agencies' callbacks on ``port``."""
    from waitress.server import create_server

    from deploy.services import start_background_services
    from deploy.web import serve_until_stopped, stop_with_parent
    from deploy.wiring import tenant_dispatcher

    stop = threading.Event()
    stop_on_signals(stop)
    if parent:
        stop_with_parent(stop, parent)
    dispatcher = tenant_dispatcher(settings, registry)
    connections: dict[int, Any] = {}
    server = create_server(dispatcher, map=connections, host="127.0.0.1", port=port, threads=4)
    base = f"http://127.0.0.1:{server.effective_port}"
    runtime, background = start_background_services(
        settings, registry, dispatcher, base, roles=(role,), simulate=simulate
    )
    try:
        serve_until_stopped(server, connections, stop)
    finally:
        for services in background:
            services.signal_stop()
        for services in background:
            services.stop()
        runtime.stop()
        dispatcher.dispose()
    return 0
