"""The Host and Origin headers of a request to ``scores serve``: they must name this server (or be
an IP address), so a web page cannot drive the endpoint (DNS rebinding, cross-site requests)."""

from __future__ import annotations

import ipaddress
from http import HTTPStatus
from typing import Any
from urllib.parse import urlparse

from endpoint.errors import BAD_ARGUMENTS, QueryError


def check_origin(headers: Any, allowed: frozenset[str]) -> None:
    """Refuse a request whose Host header, or a browser's Origin, does not name this server."""
    host = headers.get("Host")
    if host is not None and not host_allowed(host, allowed):
        raise QueryError(
            BAD_ARGUMENTS,
            "the Host header does not name this server (add it with --allowed-host)",
            HTTPStatus.MISDIRECTED_REQUEST,
        )
    origin = headers.get("Origin")
    if origin is not None and origin != "null":
        origin_host = urlparse(origin).netloc
        if not origin_host or not host_allowed(origin_host, allowed):
            raise QueryError(BAD_ARGUMENTS, "cross-origin requests are not allowed", HTTPStatus.FORBIDDEN)
    elif origin == "null":
        raise QueryError(BAD_ARGUMENTS, "cross-origin requests are not allowed", HTTPStatus.FORBIDDEN)


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """A Host (or Origin host) names this server: an IP address, or a configured name."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    try:
        ipaddress.ip_address(name)
        return True  # DNS rebinding needs a name; an address is what the client connected to
    except ValueError:
        return name in allowed
