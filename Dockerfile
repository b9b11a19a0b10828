# lineal server: the REST API over a PostgreSQL/MySQL database and S3-compatible storage.
# See docs/deploy.md (no Docker engine ran where this file was written: build it once before
# relying on it).
#
#   docker build -t lineal:local .
#   docker run -p 127.0.0.1:8080:8080 -e LINEAL_URI=postgresql://... \
#       -e LINEAL_ARTIFACTS=s3://bucket/prefix lineal:local
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install ".[server,postgres,mysql,s3]" \
    && rm -rf /build

# A non-root account; /data is the default store location of a container run without
# LINEAL_URI (a SQLite store: one container only).
RUN useradd --create-home --uid 10001 --user-group lineal \
    && mkdir /data && chown lineal:lineal /data
USER lineal
WORKDIR /data

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

CMD ["lineal", "server", "--host", "0.0.0.0", "--port", "8080"]
