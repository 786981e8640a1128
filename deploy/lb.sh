#!/usr/bin/env bash
# `make lb`: Debian's nginx on loopback in front of two gunicorn instances, the shape of
# deploy/nginx.conf without containers. Ctrl-C (or SIGTERM) stops all three by PID.
#
#   LB_PORT (8080)              where nginx listens (127.0.0.1)
#   LB_WEB_PORTS ("8101 8102")  the gunicorn instances' ports
#   LB_WEB_CONCURRENCY (3)      worker processes per instance
#   WEB_SERVER (gunicorn)       gunicorn (sync workers, config/gunicorn.conf.py) or granian
#                               (its WSGI interface, no access log); benchmarks/wsgi_servers.py
#   LB_RUN_DIR                  keep the generated config and logs there (default: a temp dir)
# The app's own settings come from the environment as usual (DATABASE_URL, REDIS_URL,
# DATABASE_REPLICA_URLS, CACHE_ENABLED, REPLICA_ROUTING_ENABLED, ...). It runs as
# production would: DEBUG=0, with a random SECRET_KEY unless one is set; cookies are
# not marked Secure because the loopback balancer speaks plain HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."

NGINX=${NGINX:-/usr/sbin/nginx}
LB_PORT=${LB_PORT:-8080}
LB_WEB_PORTS=${LB_WEB_PORTS:-"8101 8102"}
LB_WEB_CONCURRENCY=${LB_WEB_CONCURRENCY:-3}
WEB_SERVER=${WEB_SERVER:-gunicorn}
case "$WEB_SERVER" in
    gunicorn | granian) ;;
    *) echo "lb: WEB_SERVER must be gunicorn or granian (got '$WEB_SERVER')" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$NGINX" ] || { echo "lb: $NGINX not found: apt-get install -y nginx" >&2; exit 1; }

RUN_DIR=${LB_RUN_DIR:-$(mktemp -d /tmp/tempo-lb.XXXXXX)}
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
export DEBUG=0
export SECRET_KEY=${SECRET_KEY:-$($PYTHON -c 'import secrets; print(secrets.token_urlsafe(50))')}
export SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0
export WEB_CONCURRENCY=$LB_WEB_CONCURRENCY
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-127.0.0.1,localhost}
export FORWARDED_ALLOW_IPS=127.0.0.1

PIDS=()
stop_all() {
    trap - INT TERM EXIT
    for pid in "${PIDS[@]}"; do
        # Each was started in its own session: its PID is its process group.
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    echo "lb: stopped (config and logs in $RUN_DIR)"
}
trap stop_all INT TERM EXIT

# The hashed static files production serves (LB_COLLECTSTATIC=0 when they are fresh).
if [ "${LB_COLLECTSTATIC:-1}" = 1 ]; then
    $PYTHON manage.py collectstatic --no-input -v0
fi

servers=""
for port in $LB_WEB_PORTS; do
    if [ "$WEB_SERVER" = granian ]; then
        TRUSTED_PROXY_COUNT=1 setsid .venv/bin/granian --interface wsgi config.wsgi:application \
            --host 127.0.0.1 --port "$port" --workers "$LB_WEB_CONCURRENCY" --no-access-log \
            --pid-file "$RUN_DIR/granian-$port.pid" >"$RUN_DIR/granian-$port.log" 2>&1 &
    else
        GUNICORN_ACCESSLOG="$RUN_DIR/gunicorn-$port.access.log" TRUSTED_PROXY_COUNT=1 setsid .venv/bin/gunicorn config.wsgi \
            --config config/gunicorn.conf.py --bind "127.0.0.1:$port" --no-control-socket \
            --pid "$RUN_DIR/gunicorn-$port.pid" >"$RUN_DIR/gunicorn-$port.log" 2>&1 &
    fi
    PIDS+=($!)
    echo "$!" >>"$RUN_DIR/pids"
    servers+="        server 127.0.0.1:$port max_fails=3 fail_timeout=10s;"$'\n'
done

# deploy/nginx.conf with loopback addresses and every path inside the run directory.
user_line=""
if [ "$(id -u)" -eq 0 ]; then
    user_line="user nobody nogroup;"
    chown nobody:nogroup "$RUN_DIR"
fi
cat >"$RUN_DIR/nginx.conf" <<EOF
$user_line
worker_processes 2;
pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/nginx-error.log warn;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    server_tokens off;
    client_body_temp_path $RUN_DIR/client_body;
    proxy_temp_path $RUN_DIR/proxy;
    fastcgi_temp_path $RUN_DIR/fastcgi;
    uwsgi_temp_path $RUN_DIR/uwsgi;
    scgi_temp_path $RUN_DIR/scgi;
    gzip on;
    gzip_comp_level 5;
    gzip_min_length 1024;
    gzip_proxied any;
    gzip_vary on;
    gzip_types application/json text/css text/plain application/javascript image/svg+xml;
    proxy_cache_path $RUN_DIR/static-cache levels=1:2 keys_zone=static:10m max_size=200m inactive=60m use_temp_path=off;
    upstream tempo_web {
        least_conn;
$servers
        keepalive 32;
        keepalive_requests 10000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:$LB_PORT;
        client_max_body_size 200m;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$http_host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$scheme;
        proxy_connect_timeout 2s;
        proxy_read_timeout 35s;
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 2;
        location /static/ {
            proxy_pass http://tempo_web;
            proxy_cache static;
            proxy_cache_valid 200 10m;
            add_header X-Cache-Status \$upstream_cache_status;
        }
        location = /healthz { proxy_pass http://tempo_web; }
        location = /readyz { proxy_pass http://tempo_web; }
        location / { proxy_pass http://tempo_web; }
    }
}
EOF
"$NGINX" -t -q -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" -e "$RUN_DIR/nginx-error.log"
setsid "$NGINX" -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" -e "$RUN_DIR/nginx-error.log" -g "daemon off;" &
PIDS+=($!)
echo "$!" >>"$RUN_DIR/pids"

# Ready when /readyz answers 200 through nginx (both gunicorns up and migrated).
for _ in $(seq 120); do
    if $PYTHON -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$LB_PORT/readyz', timeout=2)" 2>/dev/null; then
        echo "lb: http://127.0.0.1:$LB_PORT -> $WEB_SERVER on $LB_WEB_PORTS (run dir $RUN_DIR); Ctrl-C stops"
        touch "$RUN_DIR/ready"
        wait
        exit 0
    fi
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "lb: process $pid died; see $RUN_DIR" >&2; tail -5 "$RUN_DIR"/*.log >&2; exit 1; }
    done
    sleep 0.5
done
echo "lb: not ready after 60s; see $RUN_DIR" >&2
exit 1
