# Chaperone: production image. Slim Python, no build tools left behind, runs as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PORT=3978
WORKDIR /app

COPY pyproject.toml README.md ./
COPY app.py ./
COPY cli.py ./
COPY bot ./bot
COPY cards ./cards
COPY config ./config
COPY domain ./domain
COPY graph ./graph
COPY importers ./importers
COPY jobs ./jobs
COPY legal ./legal
COPY manifest ./manifest
COPY outbound ./outbound
COPY admin ./admin
COPY rules ./rules
COPY service ./service
COPY store ./store
COPY tab ./tab
COPY telemetry ./telemetry
COPY policies ./policies
# Not standins/ nor demo/: local stand-ins for Microsoft's cloud and the scripted day are for
# development and tests only (`pip install -e '.[dev]'` from the source tree).
COPY policy.example.toml ./

RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app chaperone \
    && mkdir -p /app/data && chown chaperone /app/data

USER chaperone
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"3978\")}/healthz', timeout=4)"
CMD ["python", "app.py", "serve"]
