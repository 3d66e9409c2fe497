# syntax=docker/dockerfile:1
# secretref-fn as a KRM function image (kpt, kustomize) and an Argo CD plugin sidecar.
#   docker build -t ghcr.io/openchoreo/secretref-fn:0.1.0 .
# Runs as a non-root user, and as `nobody` (kpt, kustomize) or uid 999 (Argo CD)
# with a read-only root file system: nothing is written at run time.
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VENV=/opt/secretref-fn
WORKDIR /src
COPY pyproject.toml README.md ./
COPY krm_fn ./krm_fn
# Build our wheel, then install it and its dependencies from binary wheels only
# (no compiler needed). pip compiles the bytecode now; pip itself is removed.
RUN python -m venv "$VENV" \
 && "$VENV/bin/pip" wheel --no-deps --wheel-dir wheels . \
 && "$VENV/bin/pip" install --only-binary=:all: wheels/*.whl \
 && "$VENV/bin/pip" uninstall --yes pip

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="secretref-fn" \
      org.opencontainers.image.description="KRM function: fans OpenChoreo SecretReferences out to per-plane External Secrets Operator ExternalSecrets" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/openchoreo/secretref-fn" \
      org.opencontainers.image.base.name="docker.io/library/python:3.12.8-slim-bookworm"
COPY --from=build /opt/secretref-fn /opt/secretref-fn
ENV PATH=/opt/secretref-fn/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["secretref-fn"]
