"""The cache's Redis Cluster address, read from one URL (REDIS_CACHE_URL).

    redis-cluster://[[user]:password@]host:port[,host:port...]     (rediss-cluster:// for TLS)

e.g. ``redis-cluster://10.0.0.5:7000,10.0.0.6:7000,10.0.0.7:7000``. The hosts are seeds: the
client asks one of them for the cluster's slot map and finds the other nodes itself, so two
or three seeds on different hosts are enough. A cluster has no database numbers (only 0).
A URL of another scheme (``redis://``) is one Redis server, as before. A bad URL stops
start-up with a message saying what is wrong.
"""

from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SCHEMES = ("redis-cluster", "rediss-cluster")
FORM = "redis-cluster://[[user]:password@]host:port[,host:port...] (rediss-cluster:// for TLS)"
CLUSTER_CLIENT = "apps.core.redis_cluster.ClusterClient"
SINGLE_CLIENT = "django_redis.client.DefaultClient"


def _bad(url: str, problem: str) -> ImproperlyConfigured:
    shown = url.split("@", 1)[-1]  # never echo a password
    return ImproperlyConfigured(f"REDIS_CACHE_URL ({shown}): {problem}; expected {FORM}")


def _address(url: str, item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:7000
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _bad(url, f"{item!r} is not host:port")
    return host, int(port)


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in SCHEMES


def cache_client_options(url: str, *, failover_wait: float) -> dict:
    """The django-redis ``OPTIONS`` that choose the client for ``url``.

    A cluster URL gives ``apps.core.redis_cluster.ClusterClient`` with the seeds, the
    credentials and ``failover_wait`` (seconds a command keeps trying while a master fails
    over); any other URL the default client, which connects to LOCATION itself.
    """
    if not is_cluster_url(url):
        return {"CLIENT_CLASS": SINGLE_CLIENT}
    if failover_wait < 0:
        raise ImproperlyConfigured(
            f"REDIS_CLUSTER_FAILOVER_WAIT must be 0 or more seconds, not {failover_wait}"
        )
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise _bad(url, "takes no query or fragment")
    if parts.path not in ("", "/", "/0"):
        raise _bad(url, "a cluster has only database 0")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if not hosts:
        raise _bad(url, "names no node")
    username, has_password, password = userinfo.partition(":")
    options: dict = {
        "CLIENT_CLASS": CLUSTER_CLIENT,
        "CLUSTER_NODES": [_address(url, item) for item in hosts.split(",")],
        "CLUSTER_SSL": parts.scheme == "rediss-cluster",
        "CLUSTER_FAILOVER_WAIT": failover_wait,
    }
    if has_password:
        options["PASSWORD"] = unquote(password)
        if username:
            options["USERNAME"] = unquote(username)
    return options
