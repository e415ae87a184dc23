# The service image used by docker-compose.yml (api and worker).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PERSONALIZE_HOME=/data

WORKDIR /app
COPY requirements-runtime.lock ./
# Runtime dependencies only (no test or lint tools); torch is pinned to its CPU build, which
# PyTorch publishes on its own index.
RUN pip install --no-cache-dir --require-hashes -r requirements-runtime.lock \
        --extra-index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md alembic.ini ./
COPY engine ./engine
COPY chat_ingest ./chat_ingest
COPY embeddings ./embeddings
COPY api ./api
COPY cli ./cli
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && useradd --create-home --uid 10001 personalize \
    && mkdir -p /data && chown personalize /data
USER personalize
VOLUME ["/data"]
EXPOSE 8000
CMD ["personalize", "serve", "--host", "0.0.0.0", "--port", "8000"]
