# One image, four roles, chosen by the command (docker/entrypoint.sh):
#   web        gunicorn with gateway/gunicorn_config.py on :8000 (WEB_CONCURRENCY processes, default 2)
#   worker     deflect worker: SMS sending, hand-offs
#   scheduler  deflect scheduler: the periodic jobs (outbox sweeper, event replay, expiry)
#   migrate    deflect db upgrade: run once, before the others start
# Anything else is run as given (`docker run IMAGE deflect content status`).
# docs/production.md says how many of each to run, and what was and was not tried with this file.
# Needs BuildKit (Docker's default builder since 23.0) for RUN --mount and COPY --chmod.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
# Every dependency as a wheel (all of them have wheels for Linux x86-64: no compiler needed).
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEFLECT_ENV=production \
    DEFLECT_DATA_DIR=/var/lib/deflect \
    DEFLECT_FLOWS_DIR=/app/ivr_flows \
    DEFLECT_TEMPLATES_DIR=/app/sms_templates \
    DEFLECT_VOICE_TEXTS_DIR=/app/voice_texts \
    WEB_CONCURRENCY=2
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels deflect-gateway \
    && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin deflect \
    && install -d -o deflect -g deflect /var/lib/deflect
WORKDIR /app
# The shipped content: imported into an empty database on the first start (later versions live in
# the database: `deflect content ...`).
COPY ivr_flows ./ivr_flows
COPY sms_templates ./sms_templates
COPY voice_texts ./voice_texts
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/deflect-role
USER deflect
EXPOSE 8000
# Liveness of the web role (/healthz: the process answers); the other roles report healthy while they
# run. Load balancers ask /readyz instead (database, migrations and Redis usable).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["deflect-role", "health"]
ENTRYPOINT ["deflect-role"]
CMD ["web"]
