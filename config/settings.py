"""Tempo settings: one module, every value from the environment (see README).

The embedded default (no variables set) runs on SQLite and the local-memory cache
so that a fresh machine works with no server installed. Production sets
DATABASE_URL, REDIS_URL, SECRET_KEY and ALLOWED_HOSTS.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from config.caches import cache_config, session_engine
from config.databases import database_config
from config.deferred import deferred
from config.jobs import q_cluster
from config.logging_config import logging_config
from config.redis_sentinel import sentinel_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (never committed) may hold values for development; real environment
# variables always win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(for example: export SECRET_KEY=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))')), or DEBUG=1 for local development."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The debug toolbar costs every request; it exists only with DEBUG on.
DEBUG_TOOLBAR = DEBUG and env.bool("DEBUG_TOOLBAR", default=True)
# Collapsed to its handle at first: open, it covers the top bar (and "Log out").
DEBUG_TOOLBAR_CONFIG = {"SHOW_COLLAPSED": True}
INTERNAL_IPS = ["127.0.0.1", "::1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "axes",
    "csp",
    "health_check",
    "django_q",
    "apps.core",
    "apps.jobs",
    "apps.commerce",
    "apps.notifications",
    "apps.reports",
    "apps.monitoring",
    # /graphql: reads commerce, jobs, reports and notifications, so it sits above them.
    "apps.graphql_api",
    *(["debug_toolbar"] if DEBUG_TOOLBAR else []),
    "silk",
]

# The hot path stays cheap (DESIGN.md): request metrics right after sessions, then
# read-your-writes routing, then Silk (sampled only), then the rest.
MIDDLEWARE = [
    *(["debug_toolbar.middleware.DebugToolbarMiddleware"] if DEBUG_TOOLBAR else []),
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside everything that can answer an error under /api/, so that each one is JSON.
    "apps.core.middleware.ApiErrorBodyMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "apps.core.middleware.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "apps.monitoring.middleware.RequestMetricsMiddleware",
    # Before anything (Silk, views, the admin) hands a NUL or an oversized body on.
    "apps.core.middleware.RequestGuardMiddleware",
    "apps.core.middleware.ReplicaRoutingMiddleware",
    "silk.middleware.SilkyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the cached user and the revocable signed-cookie session.
    "apps.core.session_users.SessionUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a login refused by the lockout into the login page with the reason.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "csp.context_processors.nonce",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------
DB_POOL_MIN_SIZE = env.int("DB_POOL_MIN_SIZE", default=1)
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
# On in job worker processes (manage.py sets it for `qcluster`). django-q2 forks its
# workers from a parent that has used the database, and a forked psycopg pool would share
# its sockets between processes: workers use persistent per-process connections instead
# (django-q2 closes them before each fork).
JOBS_WORKER_PROCESS = env.bool("JOBS_WORKER_PROCESS", default=False)
DB_POOL = env.bool("DB_POOL", default=not JOBS_WORKER_PROCESS)
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", default=300)
DB_POOL_OPTIONS = {
    "min_size": DB_POOL_MIN_SIZE,
    "max_size": DB_POOL_MAX_SIZE,
    "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
}
_DATABASE_OPTIONS = {
    "worker_process": JOBS_WORKER_PROCESS,
    "pool": DB_POOL_OPTIONS if DB_POOL else None,
    "conn_max_age": DB_CONN_MAX_AGE,
    "disable_server_side_cursors": env.bool("DISABLE_SERVER_SIDE_CURSORS", default=False),
    "worker_synchronous_commit": env.str("JOBS_WORKER_SYNCHRONOUS_COMMIT", default="off"),
}
DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASE_REPLICA_URLS = [u for u in env.list("DATABASE_REPLICA_URLS", default=[]) if u]
DATABASES = {
    "default": database_config(DATABASE_URL, **_DATABASE_OPTIONS),
    **{
        f"replica_{index}": database_config(
            url, **_DATABASE_OPTIONS, replica_pool_timeout=env.float("REPLICA_POOL_TIMEOUT", default=2.0)
        )
        for index, url in enumerate(DATABASE_REPLICA_URLS)
    },
}

# --- Read replicas (apps.core.routing; README "Read replicas") -----------------------
REPLICA_DATABASES = [alias for alias in DATABASES if alias.startswith("replica_")]
DATABASE_ROUTERS = ["apps.core.routing.ReplicaRouter"]
# Off: every read goes to the primary (the load test's baseline).
REPLICA_ROUTING_ENABLED = env.bool("REPLICA_ROUTING_ENABLED", default=True)
# A replica further behind than this (seconds) is skipped until it catches up.
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=2.0)
# Seconds between two measurements of every replica's health and lag (per process).
REPLICA_CHECK_INTERVAL = env.float("REPLICA_CHECK_INTERVAL", default=1.0)
# After a client writes, its requests read from the primary for this long (signed cookie).
REPLICA_STICKY_SECONDS = env.float("REPLICA_STICKY_SECONDS", default=5.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and sessions -------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Where the cache lives (default: REDIS_URL's server); redis-cluster://host:port,host:port
# puts it on a Redis Cluster (config/redis_cluster.py, scripts/redis_cluster.sh).
REDIS_CACHE_URL = env.str("REDIS_CACHE_URL", default=REDIS_URL)
# Seconds a cache command on a cluster keeps trying while a master fails over (0: none).
REDIS_CLUSTER_FAILOVER_WAIT = env.float("REDIS_CLUSTER_FAILOVER_WAIT", default=5.0)
# Seconds to connect to the cache's Redis and for one command; after a failure, no operation
# of the process tries it for CACHE_RETRY_AFTER seconds (its reads are misses meanwhile).
CACHES = cache_config(
    REDIS_CACHE_URL,
    key_prefix=env.str("CACHE_KEY_PREFIX", default="tempo"),
    timeout=env.float("CACHE_TIMEOUT", default=0.5),
    retry_after=env.float("CACHE_RETRY_AFTER", default=5.0),
    failover_wait=REDIS_CLUSTER_FAILOVER_WAIT,
)
# Sessions in a signed cookie (no store read per request), ended server-side by logout and
# password changes (apps.core.session_users). Off: the database (cached in Redis) holds them.
SESSION_ENGINE = session_engine(
    signed_cookie=env.bool("SESSION_SIGNED_COOKIE", default=True), cached=bool(REDIS_CACHE_URL)
)
# Seconds a logged-in user (with its session generation) stays cached; 0: a query per request.
USER_CACHE_SECONDS = env.int("USER_CACHE_SECONDS", default=60)
# Off: apps.core.caching.cached() computes every time (the load test's baseline).
CACHE_ENABLED = env.bool("CACHE_ENABLED", default=True)

# --- Auth ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
# Login lockout (django-axes, apps.core.lockout): after this many failed logins of one
# username from one client address, that pair is refused for the cool-off, even with the
# right password; a success before then clears the count. Counted in the database, so a
# Redis restart forgets no lockout. `manage.py axes_reset_username NAME` (or axes_reset_ip,
# axes_reset) lifts one early.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AUTHENTICATION_BACKENDS = [
    "apps.core.lockout.LockoutBackend",
    # Django's ModelBackend, reading the session's user from the cache (USER_CACHE_SECONDS).
    "apps.core.session_users.CachedModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout neither extend it nor grow its row.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "apps.core.access.client_address"
AXES_LOCKOUT_CALLABLE = "apps.core.lockout.lockout_response"
# A row per successful login, never pruned: not kept (failures and lockouts are).
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# Password reset e-mails asked for from one client address, and for one e-mail address,
# per hour; more are refused (429) with the form and the time to wait.
PASSWORD_RESET_ADDRESS_LIMIT = env.int("PASSWORD_RESET_ADDRESS_LIMIT", default=10)
PASSWORD_RESET_EMAIL_LIMIT = env.int("PASSWORD_RESET_EMAIL_LIMIT", default=3)
# API bearer tokens: after this many wrong tokens from one client address within the window
# (seconds), every bearer request from it answers 429 with Retry-After until the window ends,
# without looking the token up.
API_TOKEN_FAILURE_LIMIT = env.int("API_TOKEN_FAILURE_LIMIT", default=20)
API_TOKEN_FAILURE_WINDOW = env.int("API_TOKEN_FAILURE_WINDOW", default=600)
# Proxies in front of the app that append the peer to X-Forwarded-For (the nginx balancer
# in deploy/: 1). The client address used by the login lockout and the rate limits is the
# entry this many places from the right; 0 uses the connection's address (REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Internationalisation -----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed files with hashed names; whitenoise serves them with far-future
    # cache headers. With DEBUG on, the plain storage avoids needing collectstatic.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Unhashed names for a minute (a page linking one sees a deploy soon); hashed names are
# immutable for a year (apps.core.pwa.static_file_headers).
WHITENOISE_MAX_AGE = 60
WHITENOISE_ADD_HEADERS_FUNCTION = deferred("apps.core.pwa.static_file_headers")

# --- E-mail -------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = EMAIL_CONFIG["EMAIL_BACKEND"]
EMAIL_HOST = EMAIL_CONFIG["EMAIL_HOST"] or "localhost"
EMAIL_PORT = EMAIL_CONFIG["EMAIL_PORT"] or 25
EMAIL_HOST_USER = EMAIL_CONFIG["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = EMAIL_CONFIG["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = EMAIL_CONFIG.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = EMAIL_CONFIG.get("EMAIL_USE_SSL", False)
EMAIL_FILE_PATH = EMAIL_CONFIG["EMAIL_FILE_PATH"] or None
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tempo@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security -----------------------------------------------------------------------
# Behind a TLS-terminating proxy, production sets SECURE_PROXY_SSL_HEADER_ENABLED=1.
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Off by default so that plain-HTTP local runs and tests work; production turns it on
# (README, "Production"). /healthz and /readyz stay reachable over HTTP for probes.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp; apps.core.middleware): scripts and styles from this
# site only, never inline; an inline <script> needs nonce="{{ request.csp_nonce }}". Silk's
# pages (staff only) carry inline handlers and get script and style 'unsafe-inline'.
_SELF, _NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF, NONCE],
        "style-src": [_SELF],
        # Data URIs: the admin's and Swagger UI's small icons.
        "img-src": [_SELF, "data:"],
        "connect-src": [_SELF],
        # The service worker (/sw.js); spelled out rather than left to script-src's fallback.
        "worker-src": [_SELF],
        "font-src": [_SELF],
        "object-src": [_NONE],
        "base-uri": [_SELF],
        "form-action": [_SELF],
        "frame-ancestors": [_NONE],
    }
}
# Browser features the site never uses, refused for it and for anything it embeds.
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
    "magnetometer=(), gyroscope=(), accelerometer=()"
)

# --- Tempo --------------------------------------------------------------------------
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=50)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=500)
# /graphql (apps.graphql_api.limits): the deepest selection, the most tokens and the most
# aliases one document may have; lists are capped by API_MAX_PAGE_SIZE like the JSON API's.
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", default=6)
GRAPHQL_MAX_TOKENS = env.int("GRAPHQL_MAX_TOKENS", default=2000)
GRAPHQL_MAX_ALIASES = env.int("GRAPHQL_MAX_ALIASES", default=15)
TPCH_GENERATOR = env.str("TPCH_GENERATOR", default="tpchgen-cli")

# --- Jobs (django-q2: one cluster per queue) ----------------------------------------
# Each queue's workers run in their own `qcluster` process, started with
# Q_CLUSTER_NAME=<queue> (Procfile). Without REDIS_URL the broker is the database.
# "system" runs the scheduled and internal kinds (roll-ups, alerts, prunes): users cannot
# submit to it, so no backlog of theirs delays them.
JOBS_WORKERS = {
    "system": env.int("JOBS_WORKERS_SYSTEM", default=2),
    "high": env.int("JOBS_WORKERS_HIGH", default=2),
    "default": env.int("JOBS_WORKERS_DEFAULT", default=2),
    "low": env.int("JOBS_WORKERS_LOW", default=1),
}
# The job broker behind Redis Sentinel: redis-sentinel://host:port,host:port/<master>/<db> (empty: no).
JOBS_BROKER_SENTINEL = sentinel_config(env.str("JOBS_BROKER_SENTINEL_URL", default=""))
Q_CLUSTER = q_cluster(
    workers=JOBS_WORKERS,
    recycle=env.int("JOBS_WORKER_RECYCLE", default=1000),
    redis_url=REDIS_URL,
    sentinel=bool(JOBS_BROKER_SENTINEL),
)

JOBS_HEARTBEAT_INTERVAL = env.float("JOBS_HEARTBEAT_INTERVAL", default=2.0)
# A worker records its successes together, this many seconds after the first (0: each at once).
JOBS_END_BATCH_SECONDS = env.float("JOBS_END_BATCH_SECONDS", default=0.02)
JOBS_HEARTBEAT_STALE_AFTER = env.float("JOBS_HEARTBEAT_STALE_AFTER", default=15.0)
JOBS_CANCEL_GRACE = env.float("JOBS_CANCEL_GRACE", default=10.0)
JOBS_REPUBLISH_AFTER = env.float("JOBS_REPUBLISH_AFTER", default=10.0)
JOBS_REPUBLISH_MAX_AGE = env.float("JOBS_REPUBLISH_MAX_AGE", default=600.0)
# Publishing gives up on Redis after this many seconds (connect, or one command); after a
# failure a process does not try it again for JOBS_BROKER_RETRY_AFTER seconds, so a dead
# broker delays no request: the job stays queued and the dispatcher publishes it later.
JOBS_BROKER_TIMEOUT = env.float("JOBS_BROKER_TIMEOUT", default=2.0)
JOBS_BROKER_RETRY_AFTER = env.float("JOBS_BROKER_RETRY_AFTER", default=5.0)
JOBS_RETENTION_DAYS = env.int("JOBS_RETENTION_DAYS", default=30)
JOBS_DISPATCHER_INTERVAL = env.float("JOBS_DISPATCHER_INTERVAL", default=0.5)
# A job may be scheduled (run_at) at most this many days ahead.
JOBS_MAX_SCHEDULE_DAYS = env.int("JOBS_MAX_SCHEDULE_DAYS", default=365)
# Jobs one (non-staff) user may have waiting or running at once, of the kinds users submit;
# over it, a submit is refused (API: 429). 0 turns the quota off. Jobs the system queues on
# a user's behalf (e-mails, webhook deliveries) are neither counted nor refused.
JOBS_USER_MAX_ACTIVE = env.int("JOBS_USER_MAX_ACTIVE", default=20)
# Seconds a refused submit is told to wait (Retry-After) before trying again.
JOBS_QUOTA_RETRY_AFTER = env.int("JOBS_QUOTA_RETRY_AFTER", default=30)

# --- Notifications ------------------------------------------------------------------
# Webhooks go to globally routable addresses only (SSRF: apps.core.outbound). On, this lets
# them reach loopback and private networks (tests, local development only); link-local
# (the metadata service at 169.254.169.254), multicast and the other special blocks stay
# refused even then.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
# Seconds to connect, and between bytes of the answer, for one webhook attempt.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
# An endpoint whose deliveries failed this many times in a row is disabled (owner notified).
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=5)
# Redeliveries and test events one user may ask for per minute (together); 429 past it.
WEBHOOK_REDELIVER_RATE_LIMIT = env.int("WEBHOOK_REDELIVER_RATE_LIMIT", default=10)
# A job that ran at least this long is "long": its end is e-mailed by default.
NOTIFICATIONS_LONG_JOB_SECONDS = env.int("NOTIFICATIONS_LONG_JOB_SECONDS", default=300)
# Absolute links in e-mails and webhook payloads start with this.
NOTIFICATIONS_BASE_URL = env.str("NOTIFICATIONS_BASE_URL", default="http://localhost:8000").rstrip("/")
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)

# --- Reports and import/export ------------------------------------------------------
# Generated report files are deleted (hourly) this many days after they were written.
REPORTS_RETENTION_DAYS = env.int("REPORTS_RETENTION_DAYS", default=7)
# Where report files go inside the default storage (MEDIA_ROOT for the file system).
REPORTS_STORAGE_PREFIX = env.str("REPORTS_STORAGE_PREFIX", default="reports")
# Rows fetched per round trip from the server-side cursor that feeds a report or export.
REPORTS_CHUNK_ROWS = env.int("REPORTS_CHUNK_ROWS", default=5000)
# Report runs one (non-staff) user may have waiting or running at once (they also count
# towards JOBS_USER_MAX_ACTIVE); 0 turns this quota off.
REPORTS_USER_MAX_ACTIVE = env.int("REPORTS_USER_MAX_ACTIVE", default=5)
# On: report pages and POST /api/reports write the file within the request, no job (the
# system before reports were jobs: the load test's "before" mode); off in production.
REPORTS_INLINE = env.bool("REPORTS_INLINE", default=False)
# Imports: a larger upload is refused before any of it is stored (the first upload
# handler checks it; it applies to every upload of the site).
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
# Stored uploads whose import never finished (a dead job) are deleted after this long.
IMPORT_UPLOAD_RETENTION_DAYS = env.int("IMPORT_UPLOAD_RETENTION_DAYS", default=7)
FILE_UPLOAD_HANDLERS = [
    "apps.commerce.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Files above this size stream to a temporary file, not memory; form fields and JSON
# bodies (never files) stay small.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# --- Monitoring ---------------------------------------------------------------------
# Request and job metrics live in each process's memory and are flushed in the
# background (to Redis, or to the database without it): no I/O on the request path.
MONITORING_FLUSH_INTERVAL = env.float("MONITORING_FLUSH_INTERVAL", default=5.0)
MONITORING_REDIS_PREFIX = env.str("MONITORING_REDIS_PREFIX", default="tempo:mon:")
MONITORING_MINUTE_RETENTION_HOURS = env.int("MONITORING_MINUTE_RETENTION_HOURS", default=48)
MONITORING_HOUR_RETENTION_DAYS = env.int("MONITORING_HOUR_RETENTION_DAYS", default=90)
# Slow queries and N+1: a statement slower than this, or run more than N times in one
# request or job, is recorded with the code line that ran it.
MONITORING_SLOW_QUERY_MS = env.float("MONITORING_SLOW_QUERY_MS", default=100.0)
MONITORING_NPLUS1_THRESHOLD = env.int("MONITORING_NPLUS1_THRESHOLD", default=10)
MONITORING_SQL_COMMENTS = env.bool("MONITORING_SQL_COMMENTS", default=True)
MONITORING_EXPLAIN_TIMEOUT_MS = env.int("MONITORING_EXPLAIN_TIMEOUT_MS", default=2000)
MONITORING_EXPLAIN_ANALYZE = env.bool("MONITORING_EXPLAIN_ANALYZE", default=False)
MONITORING_LONG_QUERY_SECONDS = env.float("MONITORING_LONG_QUERY_SECONDS", default=5.0)
# Recommended workers: arrival rate x mean run time (Little's law) / this utilisation.
MONITORING_WORKER_UTILISATION = env.float("MONITORING_WORKER_UTILISATION", default=0.7)
# /metrics (Prometheus): a bearer token, or client addresses allowed without one.
MONITORING_METRICS_TOKEN = env.str("MONITORING_METRICS_TOKEN", default="")
MONITORING_METRICS_ALLOWED_IPS = env.list("MONITORING_METRICS_ALLOWED_IPS", default=[])
MONITORING_BROWSER_SAMPLE_RATE = env.float("MONITORING_BROWSER_SAMPLE_RATE", default=1.0)
MONITORING_BROWSER_RATE_LIMIT = env.int("MONITORING_BROWSER_RATE_LIMIT", default=30)
# p75 budgets of browser metrics (Google's "good" thresholds; ms, CLS unitless), and a route's own.
MONITORING_BROWSER_BUDGETS = {
    "fcp": env.float("MONITORING_BUDGET_FCP_MS", default=1800.0),
    "lcp": env.float("MONITORING_BUDGET_LCP_MS", default=2500.0),
    "inp": env.float("MONITORING_BUDGET_INP_MS", default=200.0),
    "cls": env.float("MONITORING_BUDGET_CLS", default=0.1),
    "ttfb": env.float("MONITORING_BUDGET_TTFB_MS", default=800.0),
}
MONITORING_BROWSER_PAGE_BUDGETS = env.json("MONITORING_BROWSER_PAGE_BUDGETS", default={})
# Silk records nothing unless sampled, armed for one endpoint, or asked by a staff header.
MONITORING_SILK_SAMPLE_RATE = env.float("MONITORING_SILK_SAMPLE_RATE", default=0.0)
MONITORING_SILK_RETENTION_HOURS = env.int("MONITORING_SILK_RETENTION_HOURS", default=24)
MONITORING_SILK_HEADER = "HTTP_X_SILK_RECORD"

SILKY_AUTHENTICATION = True
SILKY_AUTHORISATION = True
SILKY_PYTHON_PROFILER = False
SILKY_META = False
# Pruned by the monitoring.silk_prune schedule, never on the request path.
SILKY_MAX_RECORDED_REQUESTS_CHECK_PERCENT = 0
SILKY_MAX_REQUEST_BODY_SIZE = 1024
SILKY_MAX_RESPONSE_BODY_SIZE = 1024
# What Silk stores holds no secret (apps.monitoring.silk_sampling masks the rest): these
# words in a header's or body key's name mask its value (Silk's defaults and ours)...
SILKY_HIDE_COOKIES = True
SILKY_SENSITIVE_KEYS = {
    *("username", "api", "token", "key", "secret", "password", "signature"),
    *("authorization", "cookie", "csrf", "session"),
}
# ...and queries whose SQL holds one of these are not recorded: Silk writes the values
# in, so the update that stores a new signing secret, and a session lookup by its key,
# would keep them in clear.
SILKY_IGNORE_QUERIES = ["whsec_", '"django_session"']
SILKY_PERMISSIONS = lambda user: user.is_staff  # noqa: E731
SILKY_INTERCEPT_FUNC = deferred("apps.monitoring.silk_sampling.silk_should_record")

# --- Logging ------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = logging_config(level=LOG_LEVEL, broker_level=env.str("JOBS_BROKER_LOG_LEVEL", default="WARNING"))
