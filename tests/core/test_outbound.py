"""Which URLs a webhook may reach: one table of URL forms, refused (with the reason) or allowed.

Nothing here sends a packet: names resolve from a fake table (a name that is not in it
fails the test), and any connection attempt outside loopback fails the test too. Every
refusal is checked to happen before any connection, and spellings that need no lookup to
be refused are refused without one.
"""

import ipaddress
import re
import socket

import pytest

from apps.core import outbound

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1::1"

DNS = {
    "public.example": [PUBLIC_V4],
    "v6only.example": [PUBLIC_V6],
    "123.example": [PUBLIC_V4],
    "xn--bcher-kva.example": [PUBLIC_V4],  # bücher.example
    "internal.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": [PUBLIC_V4, "169.254.169.254"],
    "sixtofour.example": ["2002:7f00:1::"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
}


@pytest.fixture
def network(monkeypatch, loopback_only):
    """Fake name resolution and a socket layer that refuses anything but loopback.

    Returns the names looked up and the connections attempted.
    """
    seen = {"lookups": [], "connects": loopback_only}

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        host = host.decode() if isinstance(host, bytes) else host
        # A trailing dot only says the name is absolute.
        host = host.removesuffix(".")
        seen["lookups"].append(host)
        if host not in DNS:
            pytest.fail(f"unexpected name lookup of {host!r}: only the fake table may answer")
        answers = []
        for address in DNS[host]:
            if ":" in address:
                answers.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return answers

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


# (URL, what the refusal says) — every one of these is refused.
REFUSED = [
    # IPv4 special-purpose blocks.
    ("http://127.0.0.1/", "127.0.0.1: it is a loopback address"),
    ("http://127.255.255.254:8080/", "a loopback address"),
    ("http://10.0.0.1/", "a private address"),
    ("http://172.16.5.4/", "a private address"),
    ("http://192.168.0.1/", "a private address"),
    ("http://100.64.0.1/", "a shared address (carrier-grade NAT)"),
    ("http://169.254.169.254/latest/meta-data/", "a link-local address (cloud metadata lives there)"),
    ("http://0.0.0.0/", "an unspecified address"),
    ("http://0.1.2.3/", "a 'this network' address"),
    ("http://192.0.0.8/", "an IETF protocol assignment (192.0.0.0/24)"),
    ("http://192.0.2.1/", "a documentation address"),
    ("http://198.51.100.7/", "a documentation address"),
    ("http://203.0.113.9/", "a documentation address"),
    ("http://198.18.0.1/", "a benchmarking address"),
    ("http://192.88.99.1/", "a 6to4 relay anycast address"),
    ("http://224.0.0.251/", "a multicast address"),
    ("http://239.255.255.250/", "a multicast address"),
    ("http://240.0.0.1/", "a reserved address"),
    ("http://255.255.255.255/", "the broadcast address"),
    # IPv6 special-purpose blocks.
    ("http://[::1]/", "[::1]: it is a loopback address"),
    ("http://[::]/", "an unspecified address"),
    ("http://[64:ff9b:1::a00:1]/", "a local-use NAT64 address"),
    ("http://[100::1]/", "a discard-only address"),
    ("http://[2001:db8::1]/", "a documentation address"),
    ("http://[3fff::1]/", "a documentation address"),
    ("http://[5f00::1]/", "a segment routing (SRv6) address"),
    ("http://[fc00::1]/", "a private address (unique local)"),
    ("http://[fd12:3456::1]/", "a private address (unique local)"),
    ("http://[fe80::1]/", "a link-local address"),
    ("http://[fec0::1]/", "a site-local address (deprecated)"),
    ("http://[ff02::1]/", "a multicast address"),
    ("http://[::ffff:0:7f00:1]/", "an IPv4-translated address"),
    ("http://[4000::1]/", "not a global unicast address"),
    # IPv6 forms that carry an IPv4 address: judged by it.
    ("http://[::ffff:127.0.0.1]/", "an IPv4-mapped form of 127.0.0.1, a loopback address"),
    ("http://[::ffff:a9fe:a9fe]/", "an IPv4-mapped form of 169.254.169.254, a link-local"),
    ("http://[::127.0.0.1]/", "an IPv4-compatible form of 127.0.0.1, a loopback address"),
    ("http://[::8.8.8.8]/", "an IPv4-compatible address (deprecated)"),
    ("http://[2002:7f00:1::]/", "a 6to4 form of 127.0.0.1, a loopback address"),
    ("http://[2002:a9fe:a9fe::]/", "a 6to4 form of 169.254.169.254, a link-local address"),
    ("http://[2002:a00:1::]/", "a 6to4 form of 10.0.0.1, a private address"),
    ("http://[2002:c000:8::1]/", "a 6to4 form of 192.0.0.8, an IETF protocol assignment"),
    # Teredo: the client's address is stored inverted in the last 32 bits; the server's after 2001:0.
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "a Teredo form of 127.0.0.1, a loopback address"),
    ("http://[2001:0:a00:1::a247:27dd]/", "a Teredo form of 10.0.0.1, a private address"),
    ("http://[2001:0:5db8:d822::a247:27dd]/", "an IETF protocol assignment (2001::/23)"),
    ("http://[64:ff9b::7f00:1]/", "a NAT64 form of 127.0.0.1, a loopback address"),
    ("http://[64:ff9b::a9fe:a9fe]/", "a NAT64 form of 169.254.169.254, a link-local address"),
    # Odd spellings of an IPv4 address (all of them 127.0.0.1 to libc or browsers).
    ("http://2130706433/", "four decimal numbers (a.b.c.d)"),
    ("http://0x7f.1/", "four decimal numbers (a.b.c.d)"),
    ("http://0177.0.0.1/", "four decimal numbers (a.b.c.d)"),
    ("http://127.1/", "four decimal numbers (a.b.c.d)"),
    ("http://0x7f000001/", "four decimal numbers (a.b.c.d)"),
    ("http://1.2.3.4.5/", "four decimal numbers (a.b.c.d)"),
    ("http://public.example.0x10/", "four decimal numbers (a.b.c.d)"),
    # Full-width digits, which IDNA maps to 127.0.0.1.
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "127.0.0.1: it is a loopback address"),
    ("http://127.0.0.1./", "127.0.0.1: it is a loopback address"),
    # Names that mean this machine, however written.
    ("http://localhost/", "localhost: it is a loopback name"),
    ("http://localhost./", "it is a loopback name"),
    ("http://api.localhost/", "it is a loopback name"),
    ("http://LOCALHOST:8000/", "it is a loopback name"),
    ("http://ⓛocalhost/", "it is a loopback name"),
    # Scheme, user info, port, zone id and other tricks.
    ("HTTP://127.0.0.1/", "a loopback address"),
    ("ftp://public.example/", "Only http:// and https://"),
    ("file:///etc/passwd", "Only http:// and https://"),
    ("gopher://public.example:70/_", "Only http:// and https://"),
    ("javascript:alert(1)", "Only http:// and https://"),
    ("http://public.example@127.0.0.1/", "no user name or password"),
    ("http://user:pw@public.example/", "no user name or password"),
    ("http://@public.example/", "no user name or password"),
    ("http://public.example\\@127.0.0.1/", "backslashes"),
    ("http://pub lic.example/", "spaces"),
    ("http://pub\tlic.example/", "control characters"),
    ("http://public.example:0/", "port 0"),
    ("http://public.example:99999/", "is not a valid URL"),
    ("http://[::1/", "is not a valid URL"),
    ("http://[fe80::1%25eth0]/", "zone id"),
    ("http://exa%6dple.com/", "without percent-encoding"),
    ("http://public..example/", "is not a valid host name"),
    ("http:///nohost", "has no host"),
]

# (URL, what the refusal says) — names resolving to refused addresses.
REFUSED_AFTER_LOOKUP = [
    ("https://internal.example/hook", "internal.example (it resolves to 10.1.2.3): it is a private address"),
    ("https://metadata.example/", "(it resolves to 169.254.169.254): it is a link-local address"),
    ("https://mixed.example/", "(it resolves to 169.254.169.254)"),
    ("https://sixtofour.example/", "a 6to4 form of 127.0.0.1"),
    ("https://mapped.example/", "an IPv4-mapped form of 10.0.0.1, a private address"),
]

# (URL, host, port, addresses) — every one of these is allowed.
ALLOWED = [
    (f"http://{PUBLIC_V4}/", PUBLIC_V4, 80, (PUBLIC_V4,)),
    ("http://8.8.8.8:8080/x", "8.8.8.8", 8080, ("8.8.8.8",)),
    ("https://public.example/hook", "public.example", 443, (PUBLIC_V4,)),
    ("HTTPS://PUBLIC.EXAMPLE:8443/x?y=1", "public.example", 8443, (PUBLIC_V4,)),
    ("https://public.example./", "public.example.", 443, (PUBLIC_V4,)),
    ("https://public.example/#@127.0.0.1", "public.example", 443, (PUBLIC_V4,)),
    ("https://v6only.example/", "v6only.example", 443, (PUBLIC_V6,)),
    ("https://123.example/", "123.example", 443, (PUBLIC_V4,)),
    ("https://bücher.example/", "xn--bcher-kva.example", 443, (PUBLIC_V4,)),
    (f"http://[{PUBLIC_V6}]/", PUBLIC_V6, 80, (PUBLIC_V6,)),
    ("http://[2002:5db8:d822::1]/", "2002:5db8:d822::1", 80, ("2002:5db8:d822::1",)),
    ("http://[64:ff9b::5db8:d822]/", "64:ff9b::5db8:d822", 80, ("64:ff9b::5db8:d822",)),
    ("http://[::ffff:93.184.216.34]/", "::ffff:93.184.216.34", 80, ("::ffff:5db8:d822",)),
]


def test_the_table_is_large_enough():
    assert len(REFUSED) + len(REFUSED_AFTER_LOOKUP) + len(ALLOWED) >= 40


def refusal(url: str) -> str:
    """Why url_target refuses the URL (it must)."""
    with pytest.raises(outbound.UrlRefused) as refused:
        outbound.url_target(url)
    return str(refused.value)


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_url_is_refused_with_its_reason_before_any_connection(network, settings, url, reason):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert reason in refusal(url)
    # Refused by its spelling or its address alone: no name looked up, nothing connected.
    assert network["lookups"] == []
    assert network["connects"] == []


@pytest.mark.parametrize(("url", "reason"), REFUSED_AFTER_LOOKUP)
def test_name_resolving_to_a_refused_address_is_refused_before_any_connection(network, settings, url, reason):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert reason in refusal(url)
    assert len(network["lookups"]) == 1
    assert network["connects"] == []


@pytest.mark.parametrize(("url", "host", "port", "addresses"), ALLOWED)
def test_public_url_is_allowed_without_connecting(network, settings, url, host, port, addresses):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    target = outbound.url_target(url)
    assert (target.host, target.port, target.addresses) == (host, port, addresses)
    assert network["connects"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://10.0.0.1/",
        "http://192.168.1.10:8080/",
        "http://100.64.0.1/",
        "http://[::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:8000/",
    ],
)
def test_private_networks_setting_lets_loopback_and_private_addresses_through(network, url):
    target = outbound.url_target(url, allow_private=True)
    assert target.addresses
    assert network["connects"] == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/", "link-local"),
        ("http://[2002:a9fe:a9fe::]/", "6to4 form of 169.254.169.254"),
        ("http://[64:ff9b::a9fe:a9fe]/", "NAT64 form of 169.254.169.254"),
        ("http://[::ffff:169.254.169.254]/", "IPv4-mapped form of 169.254.169.254"),
        ("http://[fe80::1]/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://192.0.2.1/", "documentation"),
        ("http://2130706433/", "four decimal numbers"),
    ],
)
def test_private_networks_setting_still_refuses_metadata_and_special_blocks(network, url, reason):
    with pytest.raises(outbound.UrlRefused, match=re.escape(reason)):
        outbound.url_target(url, allow_private=True)
    assert network["connects"] == []


def test_refusals_do_not_depend_on_pythons_address_tables(network, monkeypatch):
    # ipaddress's tables differ between Python patch versions: with every address "global",
    # the explicit blocks still refuse.
    for cls in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        monkeypatch.setattr(cls, "is_global", property(lambda self: True))
        monkeypatch.setattr(cls, "is_private", property(lambda self: False))
    for url in ("http://192.0.0.8/", "http://[2002:7f00:1::]/", "http://[fec0::1]/", "http://127.0.0.1/"):
        with pytest.raises(outbound.UrlRefused):
            outbound.url_target(url, allow_private=False)


def test_unresolvable_name_is_refused_as_not_resolved(monkeypatch, network):
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(outbound.HostNotResolved, match="could not be resolved"):
        outbound.url_target("https://nowhere.example/", allow_private=False)


def test_the_socket_guard_stops_a_connection_outside_loopback(network):
    with pytest.raises(pytest.fail.Exception, match="only loopback"):
        socket.create_connection(("10.0.0.5", 80), timeout=0.1)
    with (
        pytest.raises(pytest.fail.Exception, match="only loopback"),
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
    ):
        sock.connect(("10.0.0.5", 80))
    assert network["connects"] == [("10.0.0.5", 80), ("10.0.0.5", 80)]
