# One image for the three services of docker-compose.yml: Prefect server, API, flow workers.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ cmake make \
    && rm -rf /var/lib/apt/lists/*

# Built from a folder that is removed afterwards: a source tree in the working directory would
# shadow the installed package (which alone holds the compiled bqat._native).
WORKDIR /tmp/bqat-build
COPY pyproject.toml requirements.lock CMakeLists.txt README.md ./
COPY native ./native
COPY bqat ./bqat
COPY flows ./flows
COPY api ./api
RUN pip install --no-cache-dir -c requirements.lock scikit-build-core pybind11 \
    && pip install --no-cache-dir --no-build-isolation -c requirements.lock ".[cpu]" \
    && cd / && rm -rf /tmp/bqat-build

# Settings shared by every service; models and data are mounted read-only.
ENV BQAT_HOME=/var/lib/bqat \
    BQAT_MODEL_DIR=/models \
    BQAT_DATA_ROOT=/data \
    BQAT_HOST=0.0.0.0 \
    PREFECT_HOME=/var/lib/bqat/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1

RUN useradd --create-home --uid 1000 bqat && mkdir -p /var/lib/bqat && chown bqat /var/lib/bqat
USER bqat
WORKDIR /var/lib/bqat
