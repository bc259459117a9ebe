# syntax=docker/dockerfile:1
# tiktok-publisher: one image for every role. The command picks the role:
#   docker run IMAGE worker        # the worker (default)
#   docker run IMAGE api           # the HTTP API
#   docker run IMAGE setup         # register search attributes on a namespace (once)
#   docker run IMAGE submit -      # any other CLI command
# Configuration is the environment only (docs/settings.md); see deploy/README.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: wheels for the package and its runtime dependencies (no dev or local extras) --
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY starter ./starter
COPY simulator ./simulator
COPY telemetry ./telemetry
COPY account_store ./account_store
RUN pip wheel --wheel-dir /wheels .

# -- runtime: the wheels installed into a virtualenv, run as an unprivileged user ---------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/tiktok-publisher/bin:$PATH \
    # glibc's per-thread arenas inflate a multi-threaded worker's resident memory.
    MALLOC_ARENA_MAX=2 \
    LOG_FORMAT=json \
    WORKER_HTTP_ADDRESS=0.0.0.0:9464
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/tiktok-publisher \
    && /opt/tiktok-publisher/bin/pip install --no-index --find-links=/wheels tiktok-publisher \
    && useradd --system --uid 10001 --home-dir /var/lib/tiktok-publisher --create-home \
       --shell /usr/sbin/nologin tiktok
USER 10001:10001
WORKDIR /var/lib/tiktok-publisher
# 9464: the worker's /metrics, /healthz, /readyz. 8000: the HTTP API.
EXPOSE 9464 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["tiktok-publisher"]
CMD ["worker"]
