# One image for every bqat service of docker-compose.yml: Prefect server, API, flow workers,
# the models service and Dask. Built in two stages so that no compiler reaches the runtime.

# Builder: the pinned dependencies in a virtual environment, then bqat's wheel with its
# native module. Dependencies come first so that a change of source rebuilds only the wheel.
FROM python:3.11-slim-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ cmake make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml requirements.lock ./
# Runtime dependencies only (the lock also pins the dev tools), at the locked versions. Then
# out go the test suites of the packages below, never imported at run time: ~160 MB (not every
# package's: evidently's `legacy/tests` is code it runs).
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['cpu']))" > runtime.txt \
    && python -m venv /opt/bqat \
    && /opt/bqat/bin/pip install --no-cache-dir -c requirements.lock -r runtime.txt \
    && pip install --no-cache-dir -c requirements.lock scikit-build-core pybind11
RUN cd /opt/bqat/lib/python3.11/site-packages \
    && find pandas scipy statsmodels numpy sklearn numba matplotlib pyarrow \
        -depth -type d -name tests -exec rm -rf {} +
COPY CMakeLists.txt README.md ./
COPY native ./native
COPY bqat ./bqat
COPY flows ./flows
COPY api ./api
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

# Runtime: the environment and the wheel, no source tree (a source tree in the working
# directory would shadow the installed package, which alone holds the compiled bqat._native).
FROM python:3.11-slim-bookworm
COPY --from=builder /opt/bqat /opt/bqat
COPY --from=builder /wheels /tmp/wheels
RUN /opt/bqat/bin/pip install --no-cache-dir --no-deps /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && useradd --create-home --uid 1000 bqat \
    && mkdir -p /var/lib/bqat /models \
    && chown bqat /var/lib/bqat /models
COPY docker/prefect-server /usr/local/bin/bqat-prefect-server

# Settings shared by every service: state on the BQAT_HOME volume, models and data mounted.
ENV PATH=/opt/bqat/bin:$PATH \
    BQAT_HOME=/var/lib/bqat \
    BQAT_MODEL_DIR=/models \
    BQAT_DATA_ROOT=/data \
    BQAT_HOST=0.0.0.0 \
    PREFECT_HOME=/var/lib/bqat/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1
USER bqat
WORKDIR /var/lib/bqat
