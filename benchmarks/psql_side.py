"""What the benchmarks that compare with `psql` share: finding it, and its environment."""

import os
import shutil


def psql_or_reason() -> tuple[str | None, str]:
    """(path of psql, "") when a comparison with psql can run, else (None, why not)."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return None, "This benchmark compares with psql: set DATABASE_URL to a migrated PostgreSQL database."
    psql = shutil.which("psql")
    if not psql:
        return None, "psql was not found on PATH (Debian: apt-get install postgresql-client)."
    return psql, ""


def psql_environment(settings_dict: dict) -> dict[str, str]:
    """The environment that points psql at the same database as Django's connection."""
    return {
        **os.environ,
        "PGHOST": settings_dict["HOST"] or "",
        "PGPORT": str(settings_dict["PORT"] or ""),
        "PGUSER": settings_dict["USER"] or "",
        "PGPASSWORD": settings_dict["PASSWORD"] or "",
        "PGDATABASE": settings_dict["NAME"],
    }
