#!/bin/sh
# The image's roles (Dockerfile): the first argument chooses one; anything else is run as given.
set -eu

ROLE_FILE=/tmp/deflect-role
PORT="${PORT:-8000}"  # where the web role listens

case "${1:-web}" in
  web)
    echo web > "$ROLE_FILE"
    # gunicorn takes its number of processes from WEB_CONCURRENCY; the rest is gateway/gunicorn_config.py.
    exec gunicorn -c python:gateway.gunicorn_config -b "0.0.0.0:$PORT" --access-logfile - \
      'gateway.app:create_app()'
    ;;
  worker)
    echo worker > "$ROLE_FILE"
    exec deflect worker
    ;;
  scheduler)
    echo scheduler > "$ROLE_FILE"
    exec deflect scheduler
    ;;
  migrate)
    echo migrate > "$ROLE_FILE"
    exec deflect db upgrade
    ;;
  health)
    # HEALTHCHECK: the web role answers /healthz; the others are healthy while their process runs.
    if [ "$(cat "$ROLE_FILE" 2>/dev/null)" = web ]; then
      exec python -c "import sys, urllib.request
try:
    urllib.request.urlopen('http://127.0.0.1:$PORT/healthz', timeout=2)
except Exception as exc:
    sys.exit(f'/healthz: {exc}')"
    fi
    exit 0
    ;;
  *)
    exec "$@"
    ;;
esac
