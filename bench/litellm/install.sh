#!/usr/bin/env bash
# The LiteLLM proxy, the benchmark's peer: its own virtualenv (.venv-litellm/ in the clone, git-ignored),
# a pinned version, installed from PyPI once (pip's cache makes a reinstall quick).
#
#   bench/litellm/install.sh          install if missing; print the path of its `litellm` command
#   bench/litellm/install.sh path     print the path only (exit 1 when not installed)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${REPO_ROOT}/.venv-litellm"
LITELLM_VERSION="1.106.12"  # newer releases pin proxy packages that this index lacks (litellm-proxy, -extras 0.4.113)
PYTHON="${PYTHON:-python3}"
STAMP="${VENV}/.installed-${LITELLM_VERSION}"

if [ "${1:-install}" = path ]; then
	[ -e "${STAMP}" ] || exit 1
	echo "${VENV}/bin/litellm"
	exit 0
fi
if [ ! -e "${STAMP}" ]; then
	start=$SECONDS
	rm -rf "${VENV}"
	"${PYTHON}" -m venv "${VENV}"
	"${VENV}/bin/pip" install --disable-pip-version-check -q "litellm[proxy]==${LITELLM_VERSION}"
	touch "${STAMP}"
	echo "[litellm] installed litellm[proxy]==${LITELLM_VERSION} in $((SECONDS - start))s: ${VENV}" >&2
fi
echo "${VENV}/bin/litellm"
