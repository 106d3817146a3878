"""Forwarding a path to another process of the same installation.

With several web processes (``integra up --workers N``) the bus services, the connectors'
webhook callbacks and the partner simulators live in one services process, which serves them
on a loopback port of its own. A web process forwards those paths there, so every path keeps
answering on the public port whichever process accepted the connection.

Deliberately small: one request, one loopback connection, bodies up to ``max_body`` (the
callbacks' bodies are a few kilobytes). Not a general reverse proxy.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: Headers that describe one connection, not the message (RFC 9110, 7.6.1), plus the ones the
#: forwarding connection sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class Forward:
    """WSGI app sending the request on to ``upstream`` (``http://127.0.0.1:PORT``) under the
    same path and query, and the answer back unchanged."""

    def __init__(self, upstream: str, *, timeout: float = 60.0, max_body: int = 1 << 20) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"forward target must be http://host:port, not {upstream!r}")
        self.host = parts.hostname
        self.port = parts.port
        self.timeout = timeout
        self.max_body = max_body

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > self.max_body:
            return _answer(start_response, "413 Content Too Large", b"body too large\n")
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in HOP_BY_HOP
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        client = environ.get("REMOTE_ADDR", "")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(environ["REQUEST_METHOD"], path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            log.warning("forwarding %s to %s:%s failed: %s", path, self.host, self.port, exc)
            return _answer(start_response, "502 Bad Gateway", b"services process unavailable\n")
        finally:
            connection.close()
        start_response(
            f"{response.status} {response.reason}",
            [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() not in HOP_BY_HOP
            ]
            + [("Content-Length", str(len(data)))],
        )
        return [data]


def _answer(start_response: Callable[..., Any], status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
