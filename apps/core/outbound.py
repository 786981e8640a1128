"""Outbound HTTP for webhooks: which addresses a URL may reach (SSRF), and one POST to it.

1. Only http and https URLs with a host, and no credentials in them.
2. The host is resolved (``socket.getaddrinfo``); every address it resolves to must be
   public: loopback, private, link-local (``169.254.169.254``, cloud metadata), multicast,
   reserved and unspecified addresses are refused, for IPv4, IPv6 and IPv4-mapped IPv6,
   unless ``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` is on. This runs at registration and again
   before every attempt, since DNS can change.
3. The request connects to the very address that was checked, not to the name again (a
   second lookup could answer differently: DNS rebinding), and still sends the name as
   the Host header and as TLS SNI, against which the certificate is verified.
4. Redirects are never followed (http.client does not): a 3xx is an answer like any other.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

# Bytes of an answer read (the rest is dropped) and characters kept in the delivery log.
RESPONSE_READ_LIMIT = 64 * 1024
RESPONSE_EXCERPT_CHARS = 1000


class UrlRefused(ValueError):
    """The URL may not be called; the message says why, for the user."""


class HostNotResolved(UrlRefused):
    """The name did not resolve: refused at registration, retried at delivery."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str
    latency_ms: int


def address_refusal(address: str) -> str | None:
    """Why this IP address may not be called ("a private address"), or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # ::ffff:127.0.0.1 reaches 127.0.0.1.
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata lives there)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostNotResolved(f"The host {host!r} could not be resolved ({exc}).") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    if not addresses:
        raise HostNotResolved(f"The host {host!r} has no address.")
    return tuple(addresses)


def url_target(url: str, *, allow_private: bool | None = None) -> Target:
    """Where a webhook to ``url`` would connect; UrlRefused (with the reason) if it may not."""
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UrlRefused(f"{url!r} is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UrlRefused(f"{url!r} has no host.")
    if parts.username or parts.password:
        raise UrlRefused("Put no user name or password in the URL: check the signature instead.")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                where = address if host == address else f"{host} (it resolves to {address})"
                raise UrlRefused(
                    f"Webhooks cannot go to {where}: it is a {reason} address. "
                    "Use a URL on the public internet."
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, path=path, addresses=addresses)


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST ``body`` to the checked address of ``target``. Network errors raise OSError or
    http.client.HTTPException; any HTTP answer (also 3xx, 4xx, 5xx) is returned."""
    address = target.addresses[0]
    if target.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def connect_checked(_address, timeout=None, source_address=None):
        # http.client keeps self.host (Host header, SNI); only the socket goes to the IP.
        return socket.create_connection((address, target.port), timeout, source_address)

    connection._create_connection = connect_checked
    started = time.monotonic()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read(RESPONSE_READ_LIMIT)
        latency_ms = round((time.monotonic() - started) * 1000)
        return Answer(
            status=response.status,
            excerpt=data.decode("utf-8", errors="replace")[:RESPONSE_EXCERPT_CHARS],
            latency_ms=latency_ms,
        )
    finally:
        connection.close()
