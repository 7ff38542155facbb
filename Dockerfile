# Switchboard: the sidecar (switchboard-proxy), the operator (switchboard-operator) and the simulated model
# server (switchboard-sim) in one image.
#
#   docker build -t switchboard:0.1.0 .
#
# BASE is the official Python image pinned by digest (a tag alone can change under you). `make image`
# builds this same file with buildah on machines without Docker or a registry, passing a Debian bookworm
# root filesystem made by mmdebstrap as BASE and PIP_OPTIONS="--no-index --find-links=/wheels" with the
# host's wheels mounted at /wheels (see tests/cluster/images.sh).
ARG BASE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# Stage 1: build the wheel and install it with its dependencies into a virtualenv.
FROM ${BASE} AS build
ARG PIP_OPTIONS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY operator ./operator
RUN python3 -m venv /opt/switchboard \
 && /opt/switchboard/bin/pip install ${PIP_OPTIONS} /src \
 && /opt/switchboard/bin/python -m compileall -q /opt/switchboard/lib \
 && /opt/switchboard/bin/pip uninstall -y pip setuptools

# Stage 2: the runtime. Only the virtualenv is copied; no compiler, no pip, no sources.
FROM ${BASE}
LABEL org.opencontainers.image.title="switchboard" \
      org.opencontainers.image.description="Kubernetes-native LLM routing sidecar, operator and simulator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/switchboard /opt/switchboard
ENV PATH=/opt/switchboard/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# A fixed non-root uid (the distroless "nonroot" uid): pods can enforce runAsNonRoot without naming a user.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8787 8788
ENTRYPOINT ["switchboard-proxy"]
CMD ["--help"]
