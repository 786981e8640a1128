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

from config.redis_urls import RedisUrl

SCHEMES = ("redis-cluster", "rediss-cluster")
FORM = "redis-cluster://[[user]:password@]host:port[,host:port...] (rediss-cluster:// for TLS)"
CLUSTER_CLIENT = "apps.core.redis_cluster.ClusterClient"
SINGLE_CLIENT = "django_redis.client.DefaultClient"


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
    reader = RedisUrl("REDIS_CACHE_URL", url, form=FORM)
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise reader.bad("takes no query or fragment")
    if parts.path not in ("", "/", "/0"):
        raise reader.bad("a cluster has only database 0")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if not hosts:
        raise reader.bad("names no node")
    username, has_password, password = userinfo.partition(":")
    options: dict = {
        "CLIENT_CLASS": CLUSTER_CLIENT,
        "CLUSTER_NODES": reader.addresses(hosts),
        "CLUSTER_SSL": parts.scheme == "rediss-cluster",
        "CLUSTER_FAILOVER_WAIT": failover_wait,
    }
    if has_password:
        options["PASSWORD"] = unquote(password)
        if username:
            options["USERNAME"] = unquote(username)
    return options
