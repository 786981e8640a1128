"""What the Redis URL settings (REDIS_CACHE_URL, JOBS_BROKER_SENTINEL_URL) share: a
comma list of host:port, and an error that says what is wrong without the password."""

from django.core.exceptions import ImproperlyConfigured


class RedisUrl:
    """One setting's URL being read: ``bad(problem)`` is the error to raise."""

    def __init__(self, setting: str, url: str, *, form: str) -> None:
        self.setting, self.url, self.form = setting, url, form

    def bad(self, problem: str) -> ImproperlyConfigured:
        shown = self.url.split("@", 1)[-1]  # never echo a password
        return ImproperlyConfigured(f"{self.setting} ({shown}): {problem}; expected {self.form}")

    def addresses(self, hosts: str) -> list[tuple[str, int]]:
        """``host:port,host:port`` (``[::1]:7000`` for IPv6) as pairs."""
        pairs = []
        for item in hosts.split(","):
            host, _, port = item.rpartition(":")
            host = host.removeprefix("[").removesuffix("]")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise self.bad(f"{item!r} is not host:port")
            pairs.append((host, int(port)))
        return pairs
