"""Outbound HTTP for webhooks: which addresses a URL may reach (SSRF), and one POST to it.

1. Only http and https URLs, written plainly: no user name or password, no whitespace,
   control characters or backslashes (parsers disagree on those), no port 0, no IPv6 zone
   id, no percent-encoding in the host, and an IP address only as a.b.c.d or in brackets
   (``2130706433``, ``0x7f.1`` and ``0177.0.0.1`` mean 127.0.0.1 to some parsers).
2. The host is resolved (``socket.getaddrinfo``; an IP address is taken as it is) and every
   address must be globally routable. Refused: the special-purpose blocks of the IANA
   registries for IPv4 and IPv6 (loopback, private, shared, link-local with the cloud
   metadata service at 169.254.169.254, documentation, benchmarking, multicast, reserved,
   IETF protocol assignments, site-local, ...). An IPv6 address that carries an IPv4 one
   (IPv4-mapped, IPv4-compatible, 6to4, NAT64, Teredo) is judged by the IPv4 address it
   reaches. The blocks are listed here rather than taken from ``ipaddress`` alone, whose
   tables change between Python patch versions; its ``is_global`` is a last net below them.
3. ``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` (tests, local development) lets loopback, private
   and shared (carrier-grade NAT) addresses through, and ``localhost`` names; link-local
   (the metadata service), multicast and the other blocks stay refused even then.
4. All this runs at registration and again before every attempt, since DNS can change.
   The request connects to the very address that was checked, not to the name again (a
   second lookup could answer differently: DNS rebinding), and still sends the name as
   the Host header and as TLS SNI, against which the certificate is verified.
5. Redirects are never followed (http.client does not): a 3xx is an answer like any other.
"""

import http.client
import ipaddress
import re
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


@dataclass(frozen=True)
class Block:
    """A network no webhook may reach; ``private`` ones are allowed when private networks are."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    reason: str
    private: bool = False


def _blocks(*rows: tuple) -> tuple[Block, ...]:
    return tuple(Block(ipaddress.ip_network(network), reason, *rest) for network, reason, *rest in rows)


# The first block that holds an address gives the reason, so a narrow block comes before a
# wider one it lies in. Sources: the IANA IPv4 and IPv6 special-purpose address registries.
IPV4_BLOCKS = _blocks(
    ("0.0.0.0/32", "an unspecified address"),
    ("0.0.0.0/8", "a 'this network' address (0.0.0.0/8)"),
    ("10.0.0.0/8", "a private address", True),
    ("100.64.0.0/10", "a shared address (carrier-grade NAT)", True),
    ("127.0.0.0/8", "a loopback address", True),
    ("169.254.0.0/16", "a link-local address (cloud metadata lives there)"),
    ("172.16.0.0/12", "a private address", True),
    ("192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a 6to4 relay anycast address (deprecated)"),
    ("192.168.0.0/16", "a private address", True),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
)
IPV6_BLOCKS = _blocks(
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address", True),
    # ::a.b.c.d: judged by its IPv4 address first, then refused anyway (deprecated since 2006).
    ("::/96", "an IPv4-compatible address (deprecated)"),
    ("::ffff:0:0:0/96", "an IPv4-translated address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("100::/64", "a discard-only address"),
    # Teredo (2001::/32) is in here: judged by the IPv4 addresses it carries first.
    ("2001::/23", "an IETF protocol assignment (2001::/23)"),
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("5f00::/16", "a segment routing (SRv6) address"),
    ("fc00::/7", "a private address (unique local)", True),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address (deprecated)"),
    ("ff00::/8", "a multicast address"),
)
# Forms that carry an IPv4 address, which is what they reach: judged by it alone.
IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
TEREDO = ipaddress.IPv6Network("2001::/32")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


@dataclass(frozen=True)
class _Refusal:
    reason: str
    private: bool


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """The IPv4 address(es) an IPv6 address reaches, with the name of its form."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in IPV4_MAPPED:
        return "an IPv4-mapped", [low32]
    if ip in NAT64:
        return "a NAT64", [low32]
    if ip in SIX_TO_FOUR:
        return "a 6to4", [ip.sixtofour]
    if ip in TEREDO:
        server, client = ip.teredo
        return "a Teredo", [client, server]
    if ip in IPV4_COMPATIBLE and int(ip) > 1:
        return "an IPv4-compatible", [low32]
    return None


def _block_of(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> _Refusal | None:
    for block in IPV4_BLOCKS if ip.version == 4 else IPV6_BLOCKS:
        if ip in block.network:
            return _Refusal(block.reason, block.private)
    return None


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> _Refusal | None:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            form, carried = embedded
            for ipv4 in carried:
                refusal = _refusal(ipv4)
                if refusal is not None:
                    return _Refusal(f"{form} form of {ipv4}, {refusal.reason}", refusal.private)
            if ip in IPV4_MAPPED or ip in NAT64 or ip in SIX_TO_FOUR:
                return None
    refusal = _block_of(ip)
    if refusal is not None:
        return refusal
    if isinstance(ip, ipaddress.IPv6Address) and ip not in GLOBAL_UNICAST:
        return _Refusal("not a global unicast address", False)
    if not ip.is_global:
        return _Refusal("a non-public address", False)
    return None


def address_refusal(address: str, *, allow_private: bool = False) -> str | None:
    """Why this IP address may not be called ("a private address"), or None if it may.

    ``allow_private`` lets loopback, private and shared addresses through (and IPv6 forms
    that carry one), never link-local, multicast, reserved or the other blocks.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    refusal = _refusal(ip)
    if refusal is None or (allow_private and refusal.private):
        return None
    return refusal.reason


# Characters no URL we call may hold: whitespace and control characters (urlsplit silently
# drops some of them), and the backslash, which browsers read as a slash and Python not.
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_DECIMAL_OCTET = re.compile(r"^(0|[1-9][0-9]{0,2})$")


def _is_dotted_quad(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(_DECIMAL_OCTET.match(p) and int(p) <= 255 for p in parts)


def _host_checked(
    url: str, host: str, bracketed: bool
) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    """The host to resolve (ASCII, lower case) and its IP address if it is one."""
    if "%" in host:
        if bracketed:
            raise UrlRefused("An IPv6 zone id (%...) names a local network interface: use a public address.")
        raise UrlRefused(f"{url!r}: write the host name without percent-encoding.")
    if bracketed:
        try:
            return host, ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlRefused(f"{url!r}: {host!r} in brackets is not an IPv6 address.") from None
    if not host.isascii():
        try:
            # IDNA maps look-alikes (full-width digits, circled letters) to ASCII first.
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UrlRefused(f"{url!r}: {host!r} is not a valid host name.") from None
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if not name or any(not label for label in labels):
        raise UrlRefused(f"{url!r}: {host!r} is not a valid host name.")
    if _NUMERIC_LABEL.match(labels[-1]):
        # A host ending in a number is an IPv4 address to browsers and to libc, which
        # also read 2130706433, 0x7f.1, 127.1 and 0177.0.0.1 as 127.0.0.1.
        if not _is_dotted_quad(name):
            raise UrlRefused(
                f"{url!r}: write an IP address as four decimal numbers (a.b.c.d), "
                "without leading zeros, or use a host name."
            )
        return name, ipaddress.IPv4Address(name)
    return host, None


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


def _refused(where: str, reason: str) -> UrlRefused:
    return UrlRefused(f"Webhooks cannot go to {where}: it is {reason}. Use a URL on the public internet.")


def url_target(url: str, *, allow_private: bool | None = None) -> Target:
    """Where a webhook to ``url`` would connect; UrlRefused (with the reason) if it may not.

    Every check that needs no name lookup runs before the lookup, and nothing connects.
    """
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS
    url = url.strip()
    if _UNSAFE_URL_CHARS.search(url):
        raise UrlRefused("The URL may not contain spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(f"{url!r} is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("Only http:// and https:// URLs can receive webhooks.")
    if "@" in parts.netloc:
        raise UrlRefused("Put no user name or password in the URL: check the signature instead.")
    if not parts.hostname:
        raise UrlRefused(f"{url!r} has no host.")
    if port == 0:
        raise UrlRefused(f"{url!r}: port 0 cannot be connected to.")
    host, literal = _host_checked(url, parts.hostname, bracketed="[" in parts.netloc)
    port = port or (443 if parts.scheme == "https" else 80)
    name = host.rstrip(".")
    if literal is None and not allow_private and (name == "localhost" or name.endswith(".localhost")):
        raise _refused(host, "a loopback name")
    addresses = (str(literal),) if literal is not None else _resolve(host, port)
    for address in addresses:
        reason = address_refusal(address, allow_private=allow_private)
        if reason:
            shown = f"[{address}]" if ":" in address else address
            where = shown if literal is not None else f"{host} (it resolves to {address})"
            raise _refused(where, reason)
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
