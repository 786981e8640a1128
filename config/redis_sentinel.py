"""The job broker's Redis Sentinel address, read from one URL.

    redis-sentinel://[[user]:password@]host:port[,host:port...]/<master name>[/<db>]

e.g. ``redis-sentinel://10.0.0.5:26379,10.0.0.6:26379,10.0.0.7:26379/tempo/0``. The hosts
are sentinels, not Redis servers: the client asks them which server is the primary of
``<master name>``. Credentials, if any, are sent to the sentinels and to the servers
alike (give both the same ``requirepass``). A bad URL stops start-up with a message
saying what is wrong, rather than a broker that fails at the first job.
"""

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from config.redis_urls import RedisUrl

SCHEME = "redis-sentinel"
FORM = f"{SCHEME}://[[user]:password@]host:port[,host:port...]/<master name>[/<db>]"


@dataclass(frozen=True)
class SentinelConfig:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None

    @property
    def credentials(self) -> dict[str, str]:
        """redis-py's keyword arguments for authentication (none without a password)."""
        if self.password is None:
            return {}
        return {"password": self.password, **({"username": self.username} if self.username else {})}


def sentinel_config(url: str) -> SentinelConfig | None:
    """None for an empty URL (no Sentinel: the broker is REDIS_URL's server)."""
    if not url:
        return None
    reader = RedisUrl("JOBS_BROKER_SENTINEL_URL", url, form=FORM)
    parts = urlsplit(url)
    if parts.scheme != SCHEME:
        raise reader.bad(f"the scheme must be {SCHEME}")
    if parts.query or parts.fragment:
        raise reader.bad("takes no query or fragment")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if not hosts:
        raise reader.bad("names no sentinel")
    sentinels = tuple(reader.addresses(hosts))
    segments = [unquote(s) for s in parts.path.split("/")[1:]]
    if not segments or not segments[0] or len(segments) > 2:
        raise reader.bad("the path must be /<master name> or /<master name>/<db>")
    db = segments[1] if len(segments) == 2 else "0"
    if not db.isdigit():
        raise reader.bad(f"the database {db!r} is not a number")
    username, has_password, password = userinfo.partition(":")
    return SentinelConfig(
        sentinels=sentinels,
        master=segments[0],
        db=int(db),
        username=unquote(username) or None,
        password=unquote(password) if has_password else None,
    )
