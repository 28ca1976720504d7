# One image for the Locust master, its workers and the reference platform.
#   master:   docker run IMAGE --config config/smoke.conf --master
#   worker:   docker run IMAGE -f locustfiles/smoke.py --worker --master-host master
#   platform: docker run --entrypoint obstack-load IMAGE platform --host 0.0.0.0 --port 8080
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 obstack
WORKDIR /opt/obstack-load

# The same install step CI runs (pip install of this project), dependencies first for caching.
COPY pyproject.toml README.md ./
COPY obstack_load ./obstack_load
RUN pip install .

COPY locustfiles ./locustfiles
COPY config ./config

USER obstack
EXPOSE 8089 5557 8080
ENTRYPOINT ["locust"]
CMD ["--help"]
