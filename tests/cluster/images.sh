#!/usr/bin/env bash
# Container images for the test node, built here without Docker or a registry.
#
#   tests/cluster/images.sh build   base root filesystem, pause, switchboard and the demo app (cached)
#   tests/cluster/images.sh load    build, then import into the node's containerd (k8s.io namespace)
#   tests/cluster/images.sh names   print the image references pods use
#
# - The base is a Debian bookworm root filesystem made by mmdebstrap (python3, python3-venv), committed
#   as a buildah image. It stands in for the official python slim image that the repository's Dockerfile
#   names by digest, and is passed to it as --build-arg BASE.
# - PyPI is reached only by the host's pip (which knows this machine's index and CA settings): it fills a
#   wheelhouse, which buildah mounts read-only at /wheels for RUN steps that have no network at all
#   (PIP_OPTIONS="--no-index --find-links=/wheels").
# - pause is compiled from build/pause/linux/pause.c of the pinned k8s.io/kubernetes module (static gcc).
# Everything lives in ${SWITCHBOARD_CACHE:-~/.cache/switchboard}: buildah's storage, the wheelhouse and one
# docker-archive per image, named by a hash of its inputs, so a rebuild with no change only hashes files.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
CACHE_DIR="${SWITCHBOARD_CACHE:-${HOME}/.cache/switchboard}"
IMAGE_DIR="${CACHE_DIR}/images"
BUILDAH_ROOT="${CACHE_DIR}/buildah/storage"
BUILDAH_RUNROOT="/run/switchboard-buildah"
WHEEL_ROOT="${CACHE_DIR}/wheels"
PYTHON="${PYTHON:-python3}"
CONTAINERD_SOCK="${SWITCHBOARD_CONTAINERD_SOCK:-/run/switchboard-node/containerd.sock}"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "${REPO_ROOT}/pyproject.toml" | head -n 1)"
SWITCHBOARD_IMAGE="localhost/switchboard:${VERSION}"
DEMO_IMAGE="localhost/switchboard-demo:${VERSION}"
PAUSE_VERSION="3.10.1" # build/pause/Makefile TAG of Kubernetes v1.33
PAUSE_IMAGE="localhost/switchboard/pause:${PAUSE_VERSION}"
BASE_SUITE="bookworm"
BASE_PACKAGES="python3,python3-venv,ca-certificates,netbase,tzdata"
BASE_DPKG_OPTIONS=( # documentation is left out of the image (copyright files stay)
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
	--dpkgopt='path-exclude=/usr/share/info/*'
)
DEMO_REQUIREMENT="openai>=1.40,<3"

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

bah() { buildah --root "${BUILDAH_ROOT}" --runroot "${BUILDAH_RUNROOT}" --storage-driver overlay "$@"; }

# hash_inputs <file or dir>...: one short hash of the contents and names of every file under the paths.
hash_inputs() {
	(
		cd "${REPO_ROOT}"
		find "$@" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
			xargs -0 sha256sum
	) | sha256sum | cut -c1-16
}

archive_of() { echo "${IMAGE_DIR}/$1-$2.tar"; } # archive_of <short name> <hash>

# --------------------------------------------------------------------------
# Base root filesystem (mmdebstrap) -> buildah image localhost/switchboard-base:<hash>
# --------------------------------------------------------------------------
BASE_IMAGE=""
build_base() {
	local key rootfs t0
	key="$(printf '%s\n' "${BASE_SUITE}" "${BASE_PACKAGES}" "${BASE_DPKG_OPTIONS[@]}" | sha256sum | cut -c1-16)"
	BASE_IMAGE="localhost/switchboard-base:${key}"
	bah inspect --type image "${BASE_IMAGE}" >/dev/null 2>&1 && return 0
	rootfs="${IMAGE_DIR}/base-${key}.tar"
	if [[ ! -s "${rootfs}" ]]; then
		command -v mmdebstrap >/dev/null || die "mmdebstrap is required (apt-get install mmdebstrap)"
		t0="$(now)"
		log "making the Debian ${BASE_SUITE} root filesystem with mmdebstrap (${BASE_PACKAGES})..."
		mmdebstrap --quiet --variant=essential --include="${BASE_PACKAGES}" "${BASE_DPKG_OPTIONS[@]}" \
			"${BASE_SUITE}" "${rootfs%.tar}.tmp.tar" \
			"deb http://deb.debian.org/debian ${BASE_SUITE} main" \
			"deb http://deb.debian.org/debian ${BASE_SUITE}-updates main" \
			"deb http://deb.debian.org/debian-security ${BASE_SUITE}-security main" ||
			{ rm -f "${rootfs%.tar}.tmp.tar"; die "mmdebstrap failed"; }
		mv -f "${rootfs%.tar}.tmp.tar" "${rootfs}"
		log "root filesystem ${rootfs} ($(du -h "${rootfs}" | cut -f1)) in $(elapsed "${t0}")"
	fi
	local ctr
	ctr="$(bah from --quiet scratch)"
	bah add --quiet "${ctr}" "${rootfs}" / >/dev/null
	bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
		--cmd python3 --label "org.opencontainers.image.description=Debian ${BASE_SUITE} with python3 (mmdebstrap)" \
		"${ctr}"
	bah commit --quiet --rm "${ctr}" "${BASE_IMAGE}" >/dev/null
	log "base image ${BASE_IMAGE}"
}

base_id() { bah inspect --type image --format '{{.FromImageID}}' "${BASE_IMAGE}"; }

# --------------------------------------------------------------------------
# Wheelhouse: every wheel the Dockerfiles' RUN steps install, fetched by the host's pip.
# --------------------------------------------------------------------------
WHEELS=""
build_wheels() {
	local key t0
	key="$(printf '%s\n' "$(sha256sum "${REPO_ROOT}/pyproject.toml" | cut -c1-16)" "${DEMO_REQUIREMENT}" | sha256sum | cut -c1-16)"
	WHEELS="${WHEEL_ROOT}/${key}"
	[[ -f "${WHEELS}/.complete" ]] && return 0
	t0="$(now)"
	log "collecting wheels with the host's pip into ${WHEELS}..."
	rm -rf "${WHEELS}" && mkdir -p "${WHEELS}"
	# The project's own wheel is left out: the image builds it from the sources it copies.
	"${PYTHON}" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "${WHEELS}" \
		"${REPO_ROOT}" "${DEMO_REQUIREMENT}" "setuptools>=68" wheel || die "pip wheel failed"
	rm -f "${WHEELS}"/switchboard-*.whl
	touch "${WHEELS}/.complete"
	log "wheels ready ($(find "${WHEELS}" -name '*.whl' | wc -l) files) in $(elapsed "${t0}")"
}

# --------------------------------------------------------------------------
# pause, from the pinned Kubernetes module's source
# --------------------------------------------------------------------------
PAUSE_ARCHIVE=""
build_pause() {
	local dir src key
	dir="$(cd "${SCRIPT_DIR}/kube-build" && GOWORK=off GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' k8s.io/kubernetes)" ||
		die "cannot locate k8s.io/kubernetes in the Go module cache (run: tests/cluster/controlplane.sh build)"
	src="${dir}/build/pause/linux/pause.c"
	[[ -f "${src}" ]] || die "${src} is missing"
	key="$(printf '%s\n' "$(sha256sum <"${src}")" "${PAUSE_VERSION}" | sha256sum | cut -c1-16)"
	PAUSE_ARCHIVE="$(archive_of pause "${key}")"
	[[ -s "${PAUSE_ARCHIVE}" ]] && return 0
	command -v gcc >/dev/null || die "gcc is required to build pause"
	local work ctr
	work="$(mktemp -d)"
	gcc -Os -Wall -Werror -static -DVERSION="v${PAUSE_VERSION}-switchboard" -o "${work}/pause" "${src}" ||
		die "compiling pause.c failed (static glibc: apt-get install libc6-dev)"
	strip "${work}/pause"
	ctr="$(bah from --quiet scratch)"
	bah copy --quiet "${ctr}" "${work}/pause" /pause
	bah config --entrypoint '["/pause"]' --user 65535:65535 "${ctr}"
	bah commit --quiet --rm "${ctr}" "${PAUSE_IMAGE}" >/dev/null
	push_archive "${PAUSE_IMAGE}" "${PAUSE_ARCHIVE}"
	rm -rf "${work}"
	log "pause image ${PAUSE_IMAGE} -> ${PAUSE_ARCHIVE}"
}

push_archive() { # push_archive <image> <archive>
	rm -f "$2.tmp"
	bah push --quiet "$1" "docker-archive:$2.tmp:$1" >/dev/null || die "exporting $1 failed"
	mv -f "$2.tmp" "$2"
}

# --------------------------------------------------------------------------
# Dockerfile builds (the repository's Dockerfile and the demo app's)
# --------------------------------------------------------------------------
# build_dockerfile <image> <short name> <context dir> <input paths...>: archive path in BUILT_ARCHIVE
BUILT_ARCHIVE=""
build_dockerfile() {
	local image="$1" name="$2" context="$3" key t0
	shift 3
	key="$(printf '%s\n' "$(hash_inputs "$@")" "$(base_id)" "${WHEELS}" | sha256sum | cut -c1-16)"
	BUILT_ARCHIVE="$(archive_of "${name}" "${key}")"
	[[ -s "${BUILT_ARCHIVE}" ]] && return 0
	t0="$(now)"
	log "building ${image} from ${context}/Dockerfile with buildah (BASE=${BASE_IMAGE})..."
	# --network none: nothing in a RUN step reaches the network; pip installs from the mounted wheels.
	bah build --quiet --layers --network none --pull-never \
		--build-arg "BASE=${BASE_IMAGE}" --build-arg "PIP_OPTIONS=--no-index --find-links=/wheels" \
		--volume "${WHEELS}:/wheels:ro" \
		--label "dev.switchboard.inputs=${key}" \
		--tag "${image}" --file "${context}/Dockerfile" "${context}" >/dev/null ||
		die "buildah build of ${image} failed"
	push_archive "${image}" "${BUILT_ARCHIVE}"
	log "built ${image} -> ${BUILT_ARCHIVE} in $(elapsed "${t0}")"
}

ARCHIVES=()
cmd_build() {
	command -v buildah >/dev/null || die "buildah is required (apt-get install buildah)"
	mkdir -p "${IMAGE_DIR}" "${WHEEL_ROOT}"
	local lock t0
	t0="$(now)"
	exec {lock}>"${IMAGE_DIR}/.build.lock"
	flock -w 3600 "${lock}" || die "timed out waiting for another image build (lock ${IMAGE_DIR}/.build.lock)"
	build_pause
	build_base
	build_wheels
	build_dockerfile "${SWITCHBOARD_IMAGE}" switchboard "${REPO_ROOT}" \
		Dockerfile .dockerignore pyproject.toml README.md proxy operator
	local main="${BUILT_ARCHIVE}"
	build_dockerfile "${DEMO_IMAGE}" switchboard-demo "${SCRIPT_DIR}/demo_app" tests/cluster/demo_app
	ARCHIVES=("${PAUSE_IMAGE}=${PAUSE_ARCHIVE}" "${SWITCHBOARD_IMAGE}=${main}" "${DEMO_IMAGE}=${BUILT_ARCHIVE}")
	exec {lock}>&-
	log "images ready in $(elapsed "${t0}"): ${PAUSE_IMAGE} ${SWITCHBOARD_IMAGE} ${DEMO_IMAGE}"
}

# --------------------------------------------------------------------------
# Loading into the node's containerd
# --------------------------------------------------------------------------
kctr() { ctr --address "${CONTAINERD_SOCK}" --namespace k8s.io "$@"; }

# load_archive <image> <archive>: import unless containerd already has this archive's image.
load_archive() {
	local image="$1" archive="$2" key t0
	key="$(basename "${archive}" .tar)"
	if kctr images ls "name==${image}" 2>/dev/null | grep -qF "dev.switchboard.archive=${key}"; then
		return 0
	fi
	t0="$(now)"
	kctr images import --all-platforms "${archive}" >/dev/null || die "ctr images import ${archive} failed"
	kctr images label "${image}" "dev.switchboard.archive=${key}" >/dev/null
	log "loaded ${image} into containerd (k8s.io) in $(elapsed "${t0}")"
}

cmd_load() {
	cmd_build
	if ! kctr version >/dev/null 2>&1; then
		log "the node's containerd is not running (${CONTAINERD_SOCK}): 'tests/cluster/controlplane.sh up' loads the images"
		return 0
	fi
	local entry
	for entry in "${ARCHIVES[@]}"; do load_archive "${entry%%=*}" "${entry#*=}"; done
}

main() {
	case "${1:-help}" in
	build) cmd_build ;;
	load) cmd_load ;;
	names) printf '%s\n' "${SWITCHBOARD_IMAGE}" "${DEMO_IMAGE}" "${PAUSE_IMAGE}" ;;
	help | -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
	*) die "unknown command: $1 (build | load | names)" ;;
	esac
}

main "$@"
