"""CPU time of a load test's servers and of its database's backends, read from /proc.

    python loadtest/usage.py PIDS_FILE [DATABASE]      a snapshot, as JSON
    python loadtest/usage.py --difference BEFORE AFTER [key=value ...]

A snapshot holds the CPU seconds (user + system, finished children included) of every
process in the process groups that PIDS_FILE lists (deploy/lb.sh writes one line per
gunicorn and nginx; loadtest/run.sh adds the job worker), and per PostgreSQL backend
connected to DATABASE (pg_stat_activity; PostgreSQL is shared with other databases
on this machine, so only this database's backends are counted). ``--difference``
prints what was spent between two snapshots (the key=value pairs are added as they
are): the backends of both snapshots count their growth, new ones all of theirs (they
started within the window); a backend that ended within it is lost, and counted in
``db_backends_ended`` so that the report can say the figure is a lower bound.

Nothing here needs PostgreSQL's pg_stat_statements (not loaded on this machine) or
root: /proc/<pid>/stat is readable for every process.
"""

import json
import os
import sys


def cpu_seconds(pid: int) -> float | None:
    """utime + stime + cutime + cstime of a process (stat(5)), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command's closing parenthesis: fields[11:15] are utime stime cutime cstime.
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def process_group(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return int(file.read().rsplit(")", 1)[1].split()[2])
    except OSError:
        return None


def servers_cpu_seconds(pids_file: str) -> float:
    with open(pids_file) as file:
        groups = {int(line) for line in file if line.strip()}
    pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    return sum(cpu_seconds(pid) or 0.0 for pid in pids if process_group(pid) in groups)


def backend_pids(database: str) -> list[int]:
    """PostgreSQL backends connected to ``database`` (DATABASE_URL), except this one."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
        ).fetchall()
    return [pid for (pid,) in rows]


def snapshot(pids_file: str, database: str) -> dict:
    backends = {}
    if database:
        for pid in backend_pids(database):
            seconds = cpu_seconds(pid)
            if seconds is not None:
                backends[str(pid)] = seconds
    return {"servers": servers_cpu_seconds(pids_file), "backends": backends}


def difference(before: dict, after: dict) -> dict:
    """CPU seconds spent between two snapshots: servers, and this database's backends."""
    db = sum(seconds - before["backends"].get(pid, 0.0) for pid, seconds in after["backends"].items())
    return {
        "cpu_seconds": after["servers"] - before["servers"],
        "db_cpu_seconds": db if after["backends"] or before["backends"] else None,
        "db_backends_ended": len(set(before["backends"]) - set(after["backends"])),
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--difference"]:
        result = difference(json.loads(argv[1]), json.loads(argv[2]))
        for pair in argv[3:]:
            key, _, value = pair.partition("=")
            result[key] = int(value) if value.isdigit() else value
        json.dump(result, sys.stdout)
        return
    json.dump(snapshot(argv[0], argv[1] if len(argv) > 1 else ""), sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
