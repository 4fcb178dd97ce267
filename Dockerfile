# Production image: the app on PostgreSQL (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PRACTICE_DASHBOARD_ENVIRONMENT=production
# X-Forwarded-* are believed only from these peers: set it to the reverse proxy's address
# (docker-compose.yml does), so nobody else can forge a client's address.
ENV PRACTICE_DASHBOARD_FORWARDED_ALLOW_IPS=127.0.0.1

# Chromium prints the PDF progress summaries; fonts because the slim image has none;
# pg_dump and pg_restore for `practice-dashboard backup` and `restore` (the distribution's
# client, at least as new as the compose file's PostgreSQL server).
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-dejavu-core fonts-liberation \
    postgresql-client \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN useradd --system --uid 10001 --home /app practice
COPY pyproject.toml README.md alembic.ini ./
COPY requirements ./requirements
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
# Editable install keeps migrations/, templates/ and static/ beside the package.
# At the versions CI tested (requirements/constraints.txt).
# Bytecode compiled once here: PYTHONDONTWRITEBYTECODE stops the app writing it, and without
# it every worker start compiled the project's ~200 modules again (about 0.15 s of CPU).
RUN pip install -c requirements/constraints.txt -e . \
 && python -m compileall -q src migrations \
 && chown -R practice /app
USER practice

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"
# Migrates on start (safe to repeat), then serves.
CMD ["practice-dashboard", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
