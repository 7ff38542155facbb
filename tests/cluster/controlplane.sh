#!/usr/bin/env bash
# Local Kubernetes control plane for Switchboard's cluster tests.
#
# No Docker, no kind: etcd + kube-apiserver + kube-controller-manager run as
# plain processes on 127.0.0.1, built from pinned Go modules (see
# tests/cluster/README.md). Run with --help for usage.
set -euo pipefail

# --------------------------------------------------------------------------
# Pinned versions. The Kubernetes and etcd versions are read from the wrapper
# modules' go.mod files so there is exactly one place to change them.
# --------------------------------------------------------------------------
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
KUBE_BUILD_DIR="${SCRIPT_DIR}/kube-build"
ETCD_BUILD_DIR="${SCRIPT_DIR}/etcd-build"

HELM_VERSION="v3.19.5"
HELM_K8S_MINOR="34" # minor of the k8s.io/client-go that this helm is built against

modver() { # modver <go.mod> <module path>
	awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1"
}
KUBE_VERSION="$(modver "${KUBE_BUILD_DIR}/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(modver "${ETCD_BUILD_DIR}/go.mod" go.etcd.io/etcd/server/v3)"

CACHE_DIR="${SWITCHBOARD_CACHE:-${HOME}/.cache/switchboard}"
BIN_ROOT="${CACHE_DIR}/bin"
CLUSTER_DIR="${REPO_ROOT}/.cluster"
KUBECONFIG_PATH="${CLUSTER_DIR}/kubeconfig"
PKI_DIR="${CLUSTER_DIR}/pki"
LOG_DIR="${CLUSTER_DIR}/logs"

UP_TIMEOUT="${SWITCHBOARD_UP_TIMEOUT:-90}"          # seconds for `up` to become healthy
BUILD_TIMEOUT="${SWITCHBOARD_BUILD_TIMEOUT:-2700}"  # seconds per component build
STOP_TIMEOUT="${SWITCHBOARD_STOP_TIMEOUT:-15}"      # seconds between TERM and KILL
BUILD_LOCK_TIMEOUT=3600 # seconds to wait for a concurrent build (same cache)
CLUSTER_LOCK_TIMEOUT=300 # seconds to wait for a concurrent up/down (same checkout)

# shellcheck source=tests/cluster/node.sh
source "${SCRIPT_DIR}/node.sh" # the node: containerd, CNI, kubelet, kube-proxy (NODE_* settings)

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kube-proxy kubelet) # start order
BUILT=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy helm) # built from Go modules
KUBECTL="${KUBECTL:-kubectl}"

log() { printf '[controlplane] %s\n' "$*" >&2; }
die() { printf '[controlplane] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

usage() {
	cat <<EOF
Usage: tests/cluster/controlplane.sh <command>

A throw-away Kubernetes control plane (etcd + kube-apiserver +
kube-controller-manager) on 127.0.0.1 for Switchboard's cluster tests.
No Docker/kind needed: the binaries are built once from pinned Go modules.
There are no nodes, kubelet or scheduler: Pods are created but stay Pending.

Commands:
  build    Build (once) and cache kube-apiserver ${KUBE_VERSION}, kube-controller-manager
           ${KUBE_VERSION}, etcd ${ETCD_VERSION} and helm ${HELM_VERSION} into
           \$SWITCHBOARD_CACHE/bin/<component>-<version>/ (first run: several minutes).
  up       build if needed, then start the control plane, write the admin kubeconfig
           to .cluster/kubeconfig and wait until it is ready (/readyz ok, namespace
           "default" and serviceaccount default/default exist). No-op if already healthy.
  down     Stop the processes (TERM, then KILL after ${STOP_TIMEOUT}s) and delete .cluster/.
  status   Print whether the control plane is up (exit 0 if up and healthy, 1 otherwise).
  env      Print 'export KUBECONFIG=<abs path>' (and helm on PATH) for: eval "\$(... env)"
  help     This text (also -h, --help, or no command).

Typical use:
  tests/cluster/controlplane.sh up
  eval "\$(tests/cluster/controlplane.sh env)"
  kubectl get ns; helm version
  tests/cluster/controlplane.sh down

Files (repo root = ${REPO_ROOT}):
  .cluster/kubeconfig     admin kubeconfig (client cert, O=system:masters), embedded certs
  .cluster/logs/*.log     component logs;  .cluster/*.pid  process ids
  .cluster/pki/           generated CA, serving/client certs, service-account key
  .cluster/etcd/          etcd data (deleted by 'down')

Environment:
  SWITCHBOARD_CACHE           binary cache root (default: \$HOME/.cache/switchboard)
  SWITCHBOARD_UP_TIMEOUT      seconds to wait for readiness in 'up' (default 90)
  SWITCHBOARD_BUILD_TIMEOUT   seconds allowed per component build (default 2700)
  SWITCHBOARD_STOP_TIMEOUT    seconds between TERM and KILL in 'down' (default 15)
  GOCACHE / GOMODCACHE        Go's normal caches are used (outside the clone)
EOF
}

# --------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------
version_of() {
	case "$1" in
	kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy) echo "${KUBE_VERSION}" ;;
	etcd) echo "${ETCD_VERSION}" ;;
	helm) echo "${HELM_VERSION}" ;;
	*) die "unknown component $1" ;;
	esac
}
bin_path() { echo "${BIN_ROOT}/$1-$(version_of "$1")/$1"; }
all_built() {
	local c
	for c in "${BUILT[@]}"; do [[ -x "$(bin_path "$c")" ]] || return 1; done
}

# go_build <component> <module dir> <package> <ldflags>: builds to a temp file
# next to the final binary, which is renamed into place only on success.
go_build() {
	local comp="$1" dir="$2" pkg="$3" ldflags="$4"
	local out tmp t0
	out="$(bin_path "$comp")"
	[[ -x "${out}" ]] && return 0
	mkdir -p "$(dirname "${out}")"
	tmp="${out}.tmp.$$"
	t0="$(now)"
	log "building ${comp} $(version_of "${comp}") (first run only, several minutes)..."
	if ! (cd "${dir}" && GOBIN="" GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
		timeout "${BUILD_TIMEOUT}" go build -trimpath -ldflags="${ldflags}" -o "${tmp}" "${pkg}"); then
		rm -f "${tmp}"
		die "building ${comp} failed (or exceeded ${BUILD_TIMEOUT}s)"
	fi
	mv -f "${tmp}" "${out}"
	log "built ${out} in $(elapsed "${t0}")"
}

cmd_build() {
	command -v go >/dev/null || die "the 'go' command is required to build the control plane"
	[[ -n "${KUBE_VERSION}" && -n "${ETCD_VERSION}" ]] || die "cannot read pinned versions from ${KUBE_BUILD_DIR}/go.mod / ${ETCD_BUILD_DIR}/go.mod"
	mkdir -p "${BIN_ROOT}"
	if all_built; then
		log "binaries cached in ${BIN_ROOT} (kubernetes ${KUBE_VERSION}, etcd ${ETCD_VERSION}, helm ${HELM_VERSION})"
	else
		build_binaries
	fi
	"${SCRIPT_DIR}/images.sh" build || die "building the images failed"
}

build_binaries() {
	local t0 lock
	t0="$(now)"
	# One build at a time per cache (concurrent test runs share the cache).
	exec {lock}>"${BIN_ROOT}/.build.lock"
	flock -w "${BUILD_LOCK_TIMEOUT}" "${lock}" || die "timed out waiting for another build (lock ${BIN_ROOT}/.build.lock)"

	local kv="${KUBE_VERSION#v}" kldflags
	kldflags="-s -w"
	local pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		kldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=${kv%%.*}"
		kldflags+=" -X ${pkg}.gitMinor=$(cut -d. -f2 <<<"${kv}") -X ${pkg}.gitTreeState=clean"
	done
	go_build kube-apiserver "${KUBE_BUILD_DIR}" k8s.io/kubernetes/cmd/kube-apiserver "${kldflags}"
	go_build kube-controller-manager "${KUBE_BUILD_DIR}" k8s.io/kubernetes/cmd/kube-controller-manager "${kldflags}"
	go_build kube-scheduler "${KUBE_BUILD_DIR}" k8s.io/kubernetes/cmd/kube-scheduler "${kldflags}"
	go_build kubelet "${KUBE_BUILD_DIR}" k8s.io/kubernetes/cmd/kubelet "${kldflags}"
	go_build kube-proxy "${KUBE_BUILD_DIR}" k8s.io/kubernetes/cmd/kube-proxy "${kldflags}"
	go_build etcd "${ETCD_BUILD_DIR}" go.etcd.io/etcd/server/v3 "-s -w"

	# helm's own go.mod has no replace directives, so `go install pkg@version`
	# builds it straight from the module proxy, verified by sum.golang.org.
	local hout htmp
	hout="$(bin_path helm)"
	if [[ ! -x "${hout}" ]]; then
		local hldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
		hldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${HELM_K8S_MINOR}"
		hldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${HELM_K8S_MINOR}"
		local ht0
		ht0="$(now)"
		log "building helm ${HELM_VERSION} (first run only, about a minute)..."
		mkdir -p "$(dirname "${hout}")"
		htmp="$(mktemp -d "$(dirname "${hout}")/.gobin.XXXXXX")"
		if ! (cd "${htmp}" && GOBIN="${htmp}" GOWORK=off CGO_ENABLED=0 GOFLAGS="-buildvcs=false" \
			timeout "${BUILD_TIMEOUT}" go install -trimpath -ldflags="${hldflags}" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"); then
			rm -rf "${htmp}"
			die "building helm failed (or exceeded ${BUILD_TIMEOUT}s)"
		fi
		mv -f "${htmp}/helm" "${hout}"
		rm -rf "${htmp}"
		log "built ${hout} in $(elapsed "${ht0}")"
	fi

	exec {lock}>&- # releases the lock
	log "build done in $(elapsed "${t0}")"
}

# --------------------------------------------------------------------------
# Process helpers. A pid file is trusted only if /proc/<pid>/cmdline still
# mentions our .cluster directory, so a recycled pid is never signalled.
# --------------------------------------------------------------------------
pid_file() { echo "${CLUSTER_DIR}/$1.pid"; }
our_pid() { # our_pid <pid>: is it alive and one of ours?
	local pid="$1"
	[[ "${pid}" =~ ^[0-9]+$ ]] || return 1
	[[ -r "/proc/${pid}/cmdline" ]] || return 1
	tr '\0' ' ' 2>/dev/null <"/proc/${pid}/cmdline" | grep -qF -- "${CLUSTER_DIR}/"
}
comp_pid() { # prints pid if the component is running
	local f pid
	f="$(pid_file "$1")"
	[[ -f "${f}" ]] || return 1
	pid="$(<"${f}")"
	our_pid "${pid}" || return 1
	echo "${pid}"
}

kc() { "${KUBECTL}" --kubeconfig "${KUBECONFIG_PATH}" --request-timeout=5s "$@"; }

healthy() {
	local c
	for c in "${COMPONENTS[@]}"; do comp_pid "${c}" >/dev/null || return 1; done
	[[ -f "${KUBECONFIG_PATH}" ]] || return 1
	[[ "$(kc get --raw /readyz 2>/dev/null)" == "ok" ]] || return 1
	kc get namespace default -o name >/dev/null 2>&1 || return 1
	kc -n default get serviceaccount default -o name >/dev/null 2>&1 || return 1
	node_ready
}

free_ports() { # free_ports <n>: n distinct currently-free TCP ports on 127.0.0.1
	local n="$1" ports=() p
	if command -v python3 >/dev/null 2>&1 &&
		p="$(python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "${n}" 2>/dev/null)"; then
		echo "${p}"
		return 0
	fi
	for _ in $(seq 1 500); do
		p=$((20000 + RANDOM % 30000))
		[[ " ${ports[*]-} " == *" ${p} "* ]] && continue
		(exec 3<>"/dev/tcp/127.0.0.1/${p}") 2>/dev/null && continue
		ports+=("${p}")
		if [[ ${#ports[@]} -eq ${n} ]]; then
			echo "${ports[*]}"
			return 0
		fi
	done
	die "no free ports found"
}

start_proc() { # start_proc <name> <binary> <args...>
	local name="$1"
	shift
	# New session, no inherited stdio (callers capturing our output must not
	# hang on the daemons), pid written by the shell that then execs the binary.
	# shellcheck disable=SC2016 # expanded by the inner shell
	# umask 022: containerd and the kubelet create image layers and volumes that non-root pods must read.
	setsid bash -c 'umask 022; echo $$ >"$0"; exec "$@"' "$(pid_file "${name}")" "$@" \
		</dev/null >>"${LOG_DIR}/${name}.log" 2>&1 {CLUSTER_LOCK_FD}>&- &
	for _ in $(seq 1 50); do
		[[ -s "$(pid_file "${name}")" ]] && return 0
		sleep 0.1
	done
	die "${name} did not start"
}

stop_pids() { # stop_pids <name> <pid...>: TERM, wait up to STOP_TIMEOUT, then KILL
	local name="$1" pid alive
	shift
	[[ $# -gt 0 ]] || return 0
	for pid in "$@"; do kill -TERM "${pid}" 2>/dev/null || true; done
	for _ in $(seq 1 $((STOP_TIMEOUT * 10))); do
		alive=0
		for pid in "$@"; do our_pid "${pid}" && alive=1; done
		[[ "${alive}" == 0 ]] && return 0
		sleep 0.1
	done
	for pid in "$@"; do
		if our_pid "${pid}"; then
			log "${name} (pid ${pid}) ignored TERM for ${STOP_TIMEOUT}s, sending KILL"
			kill -KILL "${pid}" 2>/dev/null || true
		fi
	done
	for _ in $(seq 1 50); do
		alive=0
		for pid in "$@"; do our_pid "${pid}" && alive=1; done
		[[ "${alive}" == 0 ]] && return 0
		sleep 0.1
	done
	die "could not stop ${name} (pids $*)"
}

stop_all() {
	# One component at a time in reverse start order: the apiserver needs etcd
	# while it shuts down (it hangs retrying if etcd goes first). Pids come from
	# the pid files plus, as a fallback, any etcd/kube-* process whose command
	# line points into this checkout's .cluster directory.
	local c pid pids d argv0
	node_teardown # pods first, while the API server can still tell the kubelet to stop them
	for c in kube-scheduler kube-controller-manager kube-apiserver etcd; do
		pids=()
		if pid="$(comp_pid "${c}")"; then pids+=("${pid}"); fi
		if [[ -d "${CLUSTER_DIR}" ]]; then
			for d in /proc/[0-9]*; do
				pid="${d#/proc/}"
				argv0="$(tr '\0' '\n' 2>/dev/null <"${d}/cmdline" | head -n 1)" || continue
				[[ "${argv0##*/}" == "${c}" ]] || continue
				our_pid "${pid}" || continue
				[[ " ${pids[*]-} " == *" ${pid} "* ]] || pids+=("${pid}")
			done
		fi
		[[ ${#pids[@]} -gt 0 ]] || continue
		log "stopping ${c} (pid ${pids[*]})"
		if [[ "${c}" == kube-apiserver ]]; then
			# Its endpoint reconciler, on the way out, rewrites the kubernetes Service's endpoints through
			# its own listener, which is already closed, and hangs there; the data is thrown away anyway.
			STOP_TIMEOUT=3 stop_pids "${c}" "${pids[@]}"
		else
			stop_pids "${c}" "${pids[@]}"
		fi
	done
}

# --------------------------------------------------------------------------
# PKI and kubeconfigs
# --------------------------------------------------------------------------
gen_pki() {
	mkdir -p "${PKI_DIR}"
	(
		cd "${PKI_DIR}"
		umask 077
		mkca() { # mkca <name> <CN>
			openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
			openssl req -x509 -new -key "$1.key" -sha256 -days 365 -subj "/CN=$2" \
				-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
				-out "$1.crt" 2>/dev/null
		}
		mkca ca switchboard-test-ca
		mkca front-proxy-ca switchboard-test-front-proxy-ca
		# sign <name> <subject> <extendedKeyUsage> [subjectAltName]; CA=ca unless $SIGNER is set
		sign() {
			local ca="${SIGNER:-ca}"
			openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
			openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
			{
				echo "basicConstraints=critical,CA:FALSE"
				echo "keyUsage=critical,digitalSignature,keyEncipherment"
				echo "extendedKeyUsage=$3"
				[[ -z "${4:-}" ]] || echo "subjectAltName=$4"
			} >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA "${ca}.crt" -CAkey "${ca}.key" -CAcreateserial -days 365 -sha256 \
				-extfile "$1.ext" -out "$1.crt" 2>/dev/null
			rm -f "$1.csr" "$1.ext"
		}
		sign apiserver "/CN=kube-apiserver" serverAuth \
			"IP:127.0.0.1,IP:${NODE_IP},DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
		sign admin "/O=system:masters/CN=switchboard-admin" clientAuth
		sign controller-manager "/CN=system:kube-controller-manager" clientAuth
		sign scheduler "/CN=system:kube-scheduler" clientAuth
		sign kube-proxy "/CN=system:kube-proxy" clientAuth
		sign kubelet-client "/O=system:nodes/CN=system:node:${NODE_NAME}" clientAuth
		sign kubelet-serving "/CN=${NODE_NAME}" serverAuth "IP:${NODE_IP},DNS:${NODE_NAME}"
		# The API server's client certificate for kubelet calls (logs, exec, port-forward).
		sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
		# Aggregation layer (front proxy): lets aggregated APIs and the
		# controller-manager's delegated authn find a request-header CA.
		SIGNER=front-proxy-ca sign front-proxy-client "/CN=front-proxy-client" clientAuth
		# Service-account token signing key (RS256).
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
		openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
	) || true # (set -e does not apply inside a subshell used with ||; check the outputs instead)
	local f
	for f in ca.crt apiserver.crt apiserver.key admin.crt admin.key controller-manager.crt controller-manager.key \
		scheduler.crt kube-proxy.crt kubelet-client.crt kubelet-serving.crt apiserver-kubelet-client.crt \
		front-proxy-ca.crt front-proxy-client.crt front-proxy-client.key sa.key sa.pub; do
		[[ -s "${PKI_DIR}/${f}" ]] || die "certificate generation with openssl failed (${PKI_DIR}/${f} missing)"
	done
}

write_kubeconfig() { # write_kubeconfig <file> <server> <user> <cert> <key>
	local b64=(base64 -w0)
	(umask 077 && : >"$1") # the file holds a private key; the umask stays as it was for everything else
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: switchboard-test
  cluster:
    server: $2
    certificate-authority-data: $("${b64[@]}" <"${PKI_DIR}/ca.crt")
users:
- name: $3
  user:
    client-certificate-data: $("${b64[@]}" <"$4")
    client-key-data: $("${b64[@]}" <"$5")
contexts:
- name: switchboard-test
  context:
    cluster: switchboard-test
    user: $3
current-context: switchboard-test
EOF
}

# --------------------------------------------------------------------------
# up / down / status / env
# --------------------------------------------------------------------------
dump_logs() {
	local c
	for c in "${COMPONENTS[@]}"; do
		[[ -f "${LOG_DIR}/${c}.log" ]] || continue
		printf '\n----- tail of %s -----\n' "${LOG_DIR}/${c}.log" >&2
		tail -n 25 "${LOG_DIR}/${c}.log" >&2 || true
	done
}

cluster_lock() { # serialise up/down of this checkout's cluster
	mkdir -p "${CACHE_DIR}/locks"
	local key
	key="$(printf '%s' "${CLUSTER_DIR}" | cksum | cut -d' ' -f1)"
	exec {CLUSTER_LOCK_FD}>"${CACHE_DIR}/locks/cluster-${key}.lock"
	flock -w "${CLUSTER_LOCK_TIMEOUT}" "${CLUSTER_LOCK_FD}" || die "timed out waiting for another up/down of ${CLUSTER_DIR}"
}

cmd_up() {
	local t0
	t0="$(now)"
	command -v "${KUBECTL}" >/dev/null || die "kubectl is required (set KUBECTL=/path/to/kubectl)"
	command -v openssl >/dev/null || die "openssl is required"
	node_preflight
	cmd_build
	BUILD_SECS="$(elapsed "${t0}")"
	cluster_lock
	if healthy; then
		load_images # the images of the code as it is now (an unchanged image is not imported again)
		log "already up: export KUBECONFIG=${KUBECONFIG_PATH}"
		return 0
	fi
	local c running=1
	for c in "${COMPONENTS[@]}"; do comp_pid "${c}" >/dev/null || running=0; done
	if [[ "${running}" == 1 && -f "${KUBECONFIG_PATH}" ]]; then
		# Processes are alive (e.g. still starting, or briefly slow): wait, never restart.
		log "already running; waiting for it to become ready"
		wait_ready "${t0}"
		return 0
	fi
	# Anything left over (crashed run, half-started cluster, a node left by a killed run) is discarded.
	node_claim
	stop_all
	rm -rf --one-file-system "${CLUSTER_DIR}"
	mkdir -p "${LOG_DIR}" # etcd creates its own data dir with mode 0700
	chmod 700 "${CLUSTER_DIR}"
	gen_pki
	node_claim
	node_network_up

	local ports
	ports="$(free_ports 9)"
	# shellcheck disable=SC2086 # nine port numbers
	set -- ${ports}
	local etcd_port="$1" peer_port="$2" api_port="$3" kcm_port="$4" sched_port="$5"
	local server="https://${NODE_IP}:${api_port}"
	write_kubeconfig "${KUBECONFIG_PATH}" "${server}" switchboard-admin "${PKI_DIR}/admin.crt" "${PKI_DIR}/admin.key"
	write_kubeconfig "${CLUSTER_DIR}/controller-manager.kubeconfig" "${server}" system:kube-controller-manager \
		"${PKI_DIR}/controller-manager.crt" "${PKI_DIR}/controller-manager.key"
	write_kubeconfig "${CLUSTER_DIR}/scheduler.kubeconfig" "${server}" system:kube-scheduler \
		"${PKI_DIR}/scheduler.crt" "${PKI_DIR}/scheduler.key"
	PAUSE_IMAGE="$("${SCRIPT_DIR}/images.sh" names | tail -n 1)"
	node_write_configs "${server}" "$6" "$7" "$8" "$9"

	local t_start
	t_start="$(now)"
	start_etcd "${etcd_port}" "${peer_port}"
	start_apiserver "${etcd_port}" "${api_port}"
	# The controller-manager must start after the apiserver has created the
	# bootstrap RBAC roles, or it exits ("cannot get configmaps in kube-system").
	DEADLINE=$((SECONDS + UP_TIMEOUT))
	wait_until "kube-apiserver /readyz" apiserver_ready
	log "kube-apiserver ready after $(elapsed "${t_start}")"
	start_controller_manager "${kcm_port}"
	start_scheduler "${sched_port}"
	start_containerd
	start_node_agents
	wait_ready "${t0}"
}

start_etcd() { # start_etcd <client port> <peer port>
	log "starting etcd ${ETCD_VERSION} on 127.0.0.1:$1"
	start_proc etcd "$(bin_path etcd)" \
		--name=switchboard \
		--data-dir="${CLUSTER_DIR}/etcd" \
		--listen-client-urls="http://127.0.0.1:$1" \
		--advertise-client-urls="http://127.0.0.1:$1" \
		--listen-peer-urls="http://127.0.0.1:$2" \
		--initial-advertise-peer-urls="http://127.0.0.1:$2" \
		--initial-cluster="switchboard=http://127.0.0.1:$2" \
		--initial-cluster-state=new \
		--unsafe-no-fsync=true \
		--log-level=warn
}

start_apiserver() { # start_apiserver <etcd port> <secure port>
	# It listens on the node IP (on lo): host processes and pods both reach it there, and the
	# `kubernetes` Service's endpoint is that address (kube-proxy DNATs 10.96.0.1:443 to it).
	log "starting kube-apiserver ${KUBE_VERSION} on https://${NODE_IP}:$2"
	start_proc kube-apiserver "$(bin_path kube-apiserver)" \
		--etcd-servers="http://127.0.0.1:$1" \
		--bind-address="${NODE_IP}" \
		--advertise-address="${NODE_IP}" \
		--secure-port="$2" \
		--cert-dir="${PKI_DIR}" \
		--tls-cert-file="${PKI_DIR}/apiserver.crt" \
		--tls-private-key-file="${PKI_DIR}/apiserver.key" \
		--client-ca-file="${PKI_DIR}/ca.crt" \
		--authorization-mode=Node,RBAC \
		--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="${PKI_DIR}/sa.pub" \
		--service-account-signing-key-file="${PKI_DIR}/sa.key" \
		--service-cluster-ip-range="${SERVICE_CIDR}" \
		--kubelet-client-certificate="${PKI_DIR}/apiserver-kubelet-client.crt" \
		--kubelet-client-key="${PKI_DIR}/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="${PKI_DIR}/ca.crt" \
		--kubelet-preferred-address-types=InternalIP \
		--requestheader-client-ca-file="${PKI_DIR}/front-proxy-ca.crt" \
		--requestheader-allowed-names=front-proxy-client \
		--requestheader-username-headers=X-Remote-User \
		--requestheader-group-headers=X-Remote-Group \
		--requestheader-extra-headers-prefix=X-Remote-Extra- \
		--proxy-client-cert-file="${PKI_DIR}/front-proxy-client.crt" \
		--proxy-client-key-file="${PKI_DIR}/front-proxy-client.key" \
		--allow-privileged=true \
		--profiling=false
}

start_controller_manager() { # start_controller_manager <secure port>
	log "starting kube-controller-manager ${KUBE_VERSION}"
	start_proc kube-controller-manager "$(bin_path kube-controller-manager)" \
		--kubeconfig="${CLUSTER_DIR}/controller-manager.kubeconfig" \
		--authentication-kubeconfig="${CLUSTER_DIR}/controller-manager.kubeconfig" \
		--authorization-kubeconfig="${CLUSTER_DIR}/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 \
		--secure-port="$1" \
		--cert-dir="${PKI_DIR}/controller-manager-serving" \
		--controllers='*' \
		--use-service-account-credentials=true \
		--service-account-private-key-file="${PKI_DIR}/sa.key" \
		--root-ca-file="${PKI_DIR}/ca.crt" \
		--cluster-signing-cert-file="${PKI_DIR}/ca.crt" \
		--cluster-signing-key-file="${PKI_DIR}/ca.key" \
		--service-cluster-ip-range="${SERVICE_CIDR}" \
		--flex-volume-plugin-dir="${CLUSTER_DIR}/flexvolume" \
		--leader-elect=false \
		--profiling=false
}

start_scheduler() { # start_scheduler <secure port>
	log "starting kube-scheduler ${KUBE_VERSION}"
	start_proc kube-scheduler "$(bin_path kube-scheduler)" \
		--kubeconfig="${CLUSTER_DIR}/scheduler.kubeconfig" \
		--authentication-kubeconfig="${CLUSTER_DIR}/scheduler.kubeconfig" \
		--authorization-kubeconfig="${CLUSTER_DIR}/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 \
		--secure-port="$1" \
		--cert-dir="${PKI_DIR}/scheduler-serving" \
		--leader-elect=false \
		--profiling=false
}

apiserver_ready() { [[ "$(kc get --raw /readyz 2>/dev/null)" == "ok" ]]; }

DEADLINE=0
wait_until() { # wait_until <description> <command...>: poll until DEADLINE
	local what="$1" c
	shift
	while :; do
		for c in "${COMPONENTS[@]}"; do
			[[ -f "$(pid_file "${c}")" ]] || continue # not started yet
			# /proc/<pid>/cmdline reads empty for a moment while the starter shell execs the
			# binary (longer on a loaded machine): only a pid that stays gone means it exited.
			if ! comp_pid "${c}" >/dev/null && ! { sleep 0.5 && comp_pid "${c}" >/dev/null; } &&
				! { sleep 1 && comp_pid "${c}" >/dev/null; }; then
				dump_logs
				die "${c} exited during startup (logs in ${LOG_DIR}); run '$0 down' to clean up"
			fi
		done
		"$@" && return 0
		if ((SECONDS >= DEADLINE)); then
			dump_logs
			die "timed out after ${UP_TIMEOUT}s waiting for ${what} (logs in ${LOG_DIR}); run '$0 down' to clean up"
		fi
		sleep 0.25
	done
}

wait_ready() { # wait_ready <start time>
	((DEADLINE > 0)) || DEADLINE=$((SECONDS + UP_TIMEOUT))
	wait_until "readiness (/readyz, namespace default, serviceaccount default/default)" healthy
	log "up in $(elapsed "$1") (build step ${BUILD_SECS:-0s}): $(grep -m1 'server:' "${KUBECONFIG_PATH}" | awk '{print $2}')"
	log "kubeconfig: ${KUBECONFIG_PATH}   (eval \"\$($0 env)\")"
}

cmd_down() {
	local t0
	t0="$(now)"
	cluster_lock
	stop_all
	rm -rf --one-file-system "${CLUSTER_DIR}"
	log "down in $(elapsed "${t0}") (removed ${CLUSTER_DIR})"
}

cmd_status() {
	local c pid running=0
	for c in "${COMPONENTS[@]}"; do
		if pid="$(comp_pid "${c}")"; then
			echo "${c}: running (pid ${pid})"
			running=$((running + 1))
		else
			echo "${c}: not running"
		fi
	done
	if healthy; then
		echo "status: up ($(grep -m1 'server:' "${KUBECONFIG_PATH}" | awk '{print $2}'), KUBECONFIG=${KUBECONFIG_PATH})"
		return 0
	fi
	if ((running > 0)); then
		echo "status: not ready (partly running or starting; '$0 up' waits or restarts it, '$0 down' cleans up)"
	else
		echo "status: down"
	fi
	return 1
}

cmd_env() {
	healthy || log "warning: control plane is not up (run: $0 up)"
	printf 'export KUBECONFIG=%q\n' "${KUBECONFIG_PATH}"
	# shellcheck disable=SC2016 # $PATH is expanded by the caller's eval
	printf 'export PATH=%q:"$PATH"\n' "$(dirname "$(bin_path helm)")"
}

main() {
	local cmd="${1:-help}"
	[[ $# -gt 0 ]] && shift
	[[ $# -eq 0 ]] || { usage >&2; die "unexpected arguments: $*"; }
	case "${cmd}" in
	build) cmd_build ;;
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	env) cmd_env ;;
	help | -h | --help) usage ;;
	*) usage >&2; die "unknown command: ${cmd}" ;;
	esac
}

main "$@"
