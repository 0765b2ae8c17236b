"""Several uvicorn worker processes, each accepting on a listening socket of its own.

``uvicorn --workers N`` binds one listening socket in the parent and hands it to
every worker; whichever worker wakes first accepts all the connections waiting at
that moment. Clients that open their keep-alive connections at once (a load
balancer's pool, a benchmark) can land mostly on one worker, whose single core then
caps the service while the other idles: 13 of 16 connections on one worker in a
measured run. Here each worker binds its own socket to the port with
``SO_REUSEPORT`` (Linux 3.9+), and the kernel spreads new connections over the
listening sockets by a hash of their addresses, so each worker gets about its share
whatever the timing (M. Kerrisk, "The SO_REUSEPORT socket option", LWN, 2013).
uvicorn's own supervisor still starts, watches, restarts and stops the workers.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from trainguard.core.errors import ConfigError


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock


class _OwnSocketServer:
    """A worker's target: serve the app on a listening socket the worker binds itself."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config

    def __call__(self, sockets: list[socket.socket] | None = None) -> None:
        sock = _reuseport_socket(self.config.host, self.config.port)
        sock.listen(self.config.backlog)
        uvicorn.Server(self.config).run(sockets=[sock])


def run_workers(config: uvicorn.Config) -> None:
    """Run ``config.workers`` workers, each on its own ``SO_REUSEPORT`` socket, until stopped.

    The port is bound (not listened on) in the parent first, so a port another
    program holds fails here, once, with :class:`ConfigError`, and port 0 becomes
    one free port shared by all workers.
    """
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError("several workers need SO_REUSEPORT, which this platform lacks")
    probe = _reuseport_socket(config.host, config.port)
    try:
        config.port = probe.getsockname()[1]
        Multiprocess(config, target=_OwnSocketServer(config), sockets=[probe]).run()
    finally:
        probe.close()
