# One image for the Locust master, its workers and the reference platform.
#   master:   docker run -p 8089:8089 IMAGE --config config/smoke.conf --master --host http://platform:8080
#   worker:   docker run IMAGE -f locustfiles/smoke.py --worker --master-host master
#   platform: docker run --entrypoint obstack-load IMAGE platform --host 0.0.0.0 --port 8080
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OBSTACK_VENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN useradd --create-home --uid 10001 obstack
WORKDIR /opt/obstack-load

# The install step is the one CI runs (scripts/setup-venv.sh, into a venv), so CI exercises it.
COPY pyproject.toml README.md ./
COPY scripts ./scripts
COPY obstack_load ./obstack_load
RUN scripts/setup-venv.sh

COPY locustfiles ./locustfiles
COPY config ./config
RUN mkdir -p results && chown 10001 results

USER 10001
EXPOSE 8089 5557 8080
ENTRYPOINT ["locust"]
CMD ["--help"]
