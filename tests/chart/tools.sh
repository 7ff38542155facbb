#!/usr/bin/env bash
# What the chart's tests need beside helm (which tests/cluster/controlplane.sh builds), from the Go module
# proxy only, cached outside the clone:
#
#   tests/chart/tools.sh build   Prometheus built from its module with only Kubernetes service discovery
#                                (Debian's prometheus package is built without it), and the Prometheus
#                                Operator and cert-manager modules, whose CRDs validate the chart's objects
#   tests/chart/tools.sh paths   print NAME=path lines: PROMETHEUS, PROMETHEUS_OPERATOR_CRDS, CERT_MANAGER_CRDS
#
# promtool (`promtool test rules`) comes from Debian's prometheus package (apt-get install prometheus).
set -euo pipefail

PROMETHEUS_VERSION="3.16.0"
PROMETHEUS_MODULE_VERSION="v0.316.0"        # Prometheus 3.16.0 (its Go module is tagged v0.3xx.y)
PROMETHEUS_OPERATOR_VERSION="v0.85.0"       # github.com/prometheus-operator/prometheus-operator
CERT_MANAGER_VERSION="v1.21.2"              # github.com/cert-manager/cert-manager
CACHE_DIR="${SWITCHBOARD_CACHE:-${HOME}/.cache/switchboard}"
PROMETHEUS_BIN="${CACHE_DIR}/bin/prometheus-${PROMETHEUS_MODULE_VERSION}/prometheus"
BUILD_TIMEOUT="${SWITCHBOARD_BUILD_TIMEOUT:-2700}"

log() { printf '[chart-tools] %s\n' "$*" >&2; }
die() { printf '[chart-tools] ERROR: %s\n' "$*" >&2; exit 1; }

module_dir() { # module_dir <module> <version>: its directory in the module cache (downloaded if needed)
	local dir
	dir="$(cd /tmp && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$1@$2" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[[ -n "${dir}" && -d "${dir}" ]] || die "go mod download $1@$2 failed"
	echo "${dir}"
}

build_prometheus() {
	[[ -x "${PROMETHEUS_BIN}" ]] && return 0
	local work t0=${SECONDS}
	log "building prometheus ${PROMETHEUS_MODULE_VERSION} with Kubernetes service discovery only (first run only, about 4 minutes with the module downloads)..."
	mkdir -p "$(dirname "${PROMETHEUS_BIN}")"
	work="$(mktemp -d "$(dirname "${PROMETHEUS_BIN}")/.gobin.XXXXXX")"
	# remove_all_sd + enable_kubernetes_sd: the only discovery the tests use, and a fraction of the build.
	if ! (cd "${work}" && GOBIN="${work}" GOWORK=off CGO_ENABLED=0 GOFLAGS="-buildvcs=false" \
		timeout "${BUILD_TIMEOUT}" go install -trimpath -tags remove_all_sd,enable_kubernetes_sd \
		-ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION}" \
		"github.com/prometheus/prometheus/cmd/prometheus@${PROMETHEUS_MODULE_VERSION}"); then
		rm -rf "${work}"
		die "building prometheus failed"
	fi
	mv -f "${work}/prometheus" "${PROMETHEUS_BIN}"
	rm -rf "${work}"
	log "built ${PROMETHEUS_BIN} in $((SECONDS - t0))s"
}

cmd_build() {
	command -v go >/dev/null || die "Go is required"
	mkdir -p "${CACHE_DIR}/bin"
	local lock
	exec {lock}>"${CACHE_DIR}/bin/.chart-tools.lock"
	flock -w 3600 "${lock}" || die "timed out waiting for another build of the chart tools"
	build_prometheus
	module_dir github.com/prometheus-operator/prometheus-operator "${PROMETHEUS_OPERATOR_VERSION}" >/dev/null
	module_dir github.com/cert-manager/cert-manager "${CERT_MANAGER_VERSION}" >/dev/null
	log "prometheus, Prometheus Operator ${PROMETHEUS_OPERATOR_VERSION} and cert-manager ${CERT_MANAGER_VERSION} CRDs ready"
}

cmd_paths() {
	local operator cert_manager
	operator="$(module_dir github.com/prometheus-operator/prometheus-operator "${PROMETHEUS_OPERATOR_VERSION}")"
	cert_manager="$(module_dir github.com/cert-manager/cert-manager "${CERT_MANAGER_VERSION}")"
	printf 'PROMETHEUS=%s\n' "${PROMETHEUS_BIN}"
	printf 'PROMETHEUS_OPERATOR_CRDS=%s\n' "${operator}/example/prometheus-operator-crd"
	printf 'CERT_MANAGER_CRDS=%s\n' "${cert_manager}/deploy/crds"
}

case "${1:-help}" in
build) cmd_build ;;
paths) cmd_paths ;;
*) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
esac
