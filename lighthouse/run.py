"""Lighthouse CI against a running Tempo: `make lighthouse` and .ci/run call this.

1. A fresh database of its own (LIGHTHOUSE_DATABASE_URL; default a SQLite file under
   lighthouse/results/), migrated, static files collected, TPC-H scale 0.01 loaded.
2. seed.py: a staff user with a finished report run (a job, a notification) and a session.
3. gunicorn on a free loopback port, DEBUG=0, started here and stopped by PID (also when a
   step fails).
4. Per preset (desktop, mobile): `lhci collect` of every page, logged in (login.js puts the
   session cookie into the browser's cookie jar; lhci starts chromium with puppeteer-core),
   `lhci assert` with lighthouserc.<preset>.json, and `lhci upload --target=filesystem`
   into lighthouse/results/<preset>/.
5. A table of the figures per page and preset (results/summary.md); exit 1 if an
   assertion failed.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_DIR = HERE.parent
RESULTS = HERE / "results"
PYTHON = BASE_DIR / ".venv" / "bin" / "python"
LHCI = HERE / "node_modules" / ".bin" / "lhci"
PRESETS = ("desktop", "mobile")
CHROME_PATH = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]  # fmt: skip
STARTUP_DEADLINE = 30.0
TPCH_SCALE = "0.01"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_environment() -> dict[str, str]:
    database = os.environ.get("LIGHTHOUSE_DATABASE_URL") or f"sqlite:///{RESULTS / 'tempo.sqlite3'}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "lighthouse-only-secret-key-not-for-production",
        "DATABASE_URL": database,
        "DATABASE_REPLICA_URLS": "",
        "REDIS_URL": os.environ.get("LIGHTHOUSE_REDIS_URL", ""),
        "ALLOWED_HOSTS": "127.0.0.1",
        "MEDIA_ROOT": str(RESULTS / "media"),
    }
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(PYTHON), "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def prepare(env: dict[str, str]) -> dict:
    """Steps 1 and 2: a fresh database with the data; the seed's {cookie, pages}."""
    if env["DATABASE_URL"].startswith("sqlite:///"):
        Path(env["DATABASE_URL"].removeprefix("sqlite:///")).unlink(missing_ok=True)
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "collectstatic", "--no-input", "-v0")
    manage(env, "load_tpch", "--scale", TPCH_SCALE, "--if-empty")
    seeded = subprocess.run(
        [str(PYTHON), str(HERE / "seed.py")], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    if seeded.returncode:
        raise SystemExit(f"seed.py failed:\n{seeded.stdout}\n{seeded.stderr}")
    return json.loads(seeded.stdout)


class Server:
    """gunicorn in its own process group; stop() ends it by PID."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = (RESULTS / "gunicorn.log").open("wb")
        self.popen = subprocess.Popen(
            [str(BASE_DIR / ".venv" / "bin" / "gunicorn"), "config.wsgi",
             "--config", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.popen.returncode}); see {self.log.name}")
            # Our own loopback server's URL, built here: no other scheme can reach it.
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response,  # noqa: S310
            ):
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer /healthz within {STARTUP_DEADLINE:.0f}s")

    def stop(self) -> None:
        pid = self.popen.pid
        if self.popen.poll() is None:
            os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        self.popen.wait(timeout=5)
        self.log.close()


def preset_config(preset: str, *, work: Path, base_url: str, seeded: dict) -> dict:
    """lighthouserc.<preset>.json with this run's URLs, cookie and chromium filled in."""
    config = json.loads((HERE / f"lighthouserc.{preset}.json").read_text())
    collect = config["ci"]["collect"]
    collect["url"] = [base_url + path for path in seeded["pages"].values()]
    # lhci resolves the script from its working directory (the preset's folder).
    collect["puppeteerScript"] = os.path.relpath(HERE / "login.js", work)
    collect["puppeteerLaunchOptions"] = {
        "executablePath": CHROME_PATH,
        "headless": True,
        "args": CHROME_ARGS,
        "userDataDir": str(work / "profile"),
    }
    config["ci"]["upload"] = {"target": "filesystem", "outputDir": str(RESULTS / preset)}
    return config


def lhci(preset_dir: Path, cookie: str, *args: str) -> int:
    """One lhci command in its own process group: if this driver is stopped midway, the
    group (lhci, lighthouse, chromium) goes too."""
    child = subprocess.Popen(
        [str(LHCI), *args, "--config=lighthouserc.json"],
        cwd=preset_dir,
        env={**os.environ, "LIGHTHOUSE_SESSION_COOKIE": cookie},
        start_new_session=True,
    )
    try:
        return child.wait()
    finally:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        browsers_stop(preset_dir / "profile")


def browsers_stop(profile: Path) -> None:
    """End chromium processes left running with this run's profile folder (puppeteer starts
    the browser in a process group of its own, so a crashed lhci leaves it behind)."""
    marker = f"--user-data-dir={profile}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)


def audit(preset: str, *, base_url: str, seeded: dict) -> bool:
    """Step 4 for one preset: True when every assertion held."""
    work = RESULTS / f"{preset}-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = preset_config(preset, work=work, base_url=base_url, seeded=seeded)
    (work / "lighthouserc.json").write_text(json.dumps(config))
    if lhci(work, seeded["cookie"], "collect"):
        raise SystemExit(f"lhci collect ({preset}) failed")
    passed = lhci(work, seeded["cookie"], "assert") == 0
    shutil.rmtree(RESULTS / preset, ignore_errors=True)
    if lhci(work, seeded["cookie"], "upload"):
        raise SystemExit(f"lhci upload ({preset}) failed")
    return passed


def figures(preset: str, *, base_url: str, seeded: dict) -> list[str]:
    """Step 5: one table row per page from the saved reports (the median run's)."""
    manifest = json.loads((RESULTS / preset / "manifest.json").read_text())
    names = {base_url + path: name for name, path in seeded["pages"].items()}
    rows = []
    for entry in manifest:
        if not entry.get("isRepresentativeRun", True):
            continue
        report = json.loads(Path(entry["jsonPath"]).read_text())
        audits = report["audits"]
        scripts = next(
            (item["transferSize"] for item in audits["resource-summary"]["details"]["items"]
             if item["resourceType"] == "script"),
            0,
        )  # fmt: skip
        rows.append(
            f"| {names.get(entry['url'], entry['url'])} | {preset} "
            f"| {report['categories']['performance']['score'] * 100:.0f} "
            f"| {audits['first-contentful-paint']['numericValue']:.0f} "
            f"| {audits['largest-contentful-paint']['numericValue']:.0f} "
            f"| {audits['total-blocking-time']['numericValue']:.0f} "
            f"| {audits['cumulative-layout-shift']['numericValue']:.3f} "
            f"| {audits['total-byte-weight']['numericValue'] / 1024:.1f} "
            f"| {scripts / 1024:.1f} |"
        )
    return rows


def main() -> int:
    if not LHCI.exists():
        raise SystemExit("lighthouse/node_modules is missing: run `npm ci` in lighthouse/")
    started = time.monotonic()
    RESULTS.mkdir(exist_ok=True)
    env = app_environment()
    seeded = prepare(env)
    server = Server(env, free_port())
    try:
        server.wait_ready()
        outcomes = {preset: audit(preset, base_url=server.base_url, seeded=seeded) for preset in PRESETS}
    finally:
        server.stop()
    table = [
        "| page | preset | score | FCP ms | LCP ms | TBT ms | CLS | total KB | JS KB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for preset in PRESETS:
        table += figures(preset, base_url=server.base_url, seeded=seeded)
    (RESULTS / "summary.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    print(f"Lighthouse CI took {time.monotonic() - started:.0f}s; reports in {RESULTS}")
    failed = [preset for preset, passed in outcomes.items() if not passed]
    if failed:
        print(f"Lighthouse assertions failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
