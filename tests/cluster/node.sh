# shellcheck shell=bash
# The test cluster's node: containerd + runc, CNI bridge networking, kubelet and kube-proxy.
# Sourced by controlplane.sh (which owns logging, pids, PKI and the up/down commands); see README.md.
#
# Machine-wide pieces, owned by one checkout at a time (its .cluster dir is written to ${NODE_RUN}/owner):
#   lo          10.245.0.1/32, the node IP: the kubelet refuses a loopback address and there is no
#               `dummy` module; the API server listens here so that pods reach it
#   cni0        bridge 10.245.1.1/24 for pods; pods get routes to the node IP and the Service range only
#               (no default route), ipMasq is off, and SWITCHBOARD-NODE in FORWARD drops whatever a pod
#               sends off the bridge: nothing a pod sends can leave the machine
#   routes      10.96.0.0/16 (Services) via cni0, so host clients reach Service IPs through kube-proxy's
#               DNAT; unreachable 10.245.0.0/16, so pod addresses never fall through to the default route
#   sysctls     net.ipv4.ip_forward and net.bridge.bridge-nf-call-iptables set to 1, restored at teardown
#   /run/switchboard-node (containerd's socket and state), /run/containerd (its shims' sockets),
#   /run/netns/cni-* (pod network namespaces), /var/lib/kubelet/device-plugins (fixed in the kubelet),
#   /var/log/containers, /var/lib/cni, cgroups kubepods, iptables chains KUBE-* (kubelet, kube-proxy)
# node_teardown removes all of them, in order: pods, kubelet and kube-proxy, containerd and its shims,
# left-over container processes and their cgroups, iptables chains, mounts, cni0 and routes, sysctls.

NODE_NAME="switchboard-node"
NODE_IP="10.245.0.1"
NODE_RANGE="10.245.0.0/16"
POD_CIDR="10.245.1.0/24"
POD_GATEWAY="10.245.1.1"
SERVICE_CIDR="10.96.0.0/16"
BRIDGE="cni0"
NODE_CHAIN="SWITCHBOARD-NODE"
NODE_DIR="${CLUSTER_DIR}/node"
NODE_RUN="/run/switchboard-node"
CONTAINERD_SOCK="${NODE_RUN}/containerd.sock"
CNI_BIN_DIR="/usr/lib/cni"
# Host directories the kubelet, containerd and CNI write to whatever they are told; created with a marker
# so that teardown removes only what the node made.
NODE_HOST_DIRS=(/var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /run/containerd)
HOST_DIR_MARKER=".switchboard-node"
POD_DELETE_TIMEOUT=60 # seconds for the pods to stop gracefully at teardown

node_preflight() {
	[[ "$(id -u)" == 0 ]] || die "the node needs root (kubelet, containerd, iptables, cni0)"
	local missing=() c
	for c in containerd containerd-shim-runc-v2 runc ctr iptables iptables-save iptables-restore ip mount; do
		command -v "${c}" >/dev/null || missing+=("${c}")
	done
	for c in bridge host-local loopback; do [[ -x "${CNI_BIN_DIR}/${c}" ]] || missing+=("${CNI_BIN_DIR}/${c}"); done
	((${#missing[@]} == 0)) || die "missing for the node: ${missing[*]} (apt-get install containerd runc containernetworking-plugins iptables)"
}

# node_claim: make this checkout the node's owner, or fail naming the checkout that runs it.
node_claim() {
	mkdir -p "${NODE_RUN}"
	local owner=""
	[[ -f "${NODE_RUN}/owner" ]] && owner="$(<"${NODE_RUN}/owner")"
	if [[ -n "${owner}" && "${owner}" != "${CLUSTER_DIR}" ]]; then
		local d
		for d in /proc/[0-9]*; do
			if tr '\0' ' ' 2>/dev/null <"${d}/cmdline" | grep -qF -- "${owner}/node/"; then
				die "the machine's node is in use by another checkout (${owner}); run its 'controlplane.sh down' first"
			fi
		done
		log "cleaning up the node left behind by ${owner}"
		node_teardown "${owner}/node"
		mkdir -p "${NODE_RUN}"
	fi
	echo "${CLUSTER_DIR}" >"${NODE_RUN}/owner"
}

# --------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------
save_sysctl() { # save_sysctl <key>: remember the value before the node's first change
	local file="/proc/sys/${1//.//}" saved="${NODE_RUN}/sysctl.$1"
	[[ -f "${saved}" ]] || cat "${file}" >"${saved}"
	echo 1 >"${file}"
}

node_network_up() {
	ip -4 addr show dev lo | grep -qF " ${NODE_IP}/32 " || ip addr add "${NODE_IP}/32" dev lo
	if ! ip link show "${BRIDGE}" >/dev/null 2>&1; then
		ip link add "${BRIDGE}" type bridge
	fi
	ip -4 addr show dev "${BRIDGE}" | grep -qF " ${POD_GATEWAY}/" || ip addr add "${POD_GATEWAY}/24" dev "${BRIDGE}"
	ip link set "${BRIDGE}" up
	ip route replace unreachable "${NODE_RANGE}"
	ip route replace "${SERVICE_CIDR}" dev "${BRIDGE}" src "${POD_GATEWAY}"
	save_sysctl net.ipv4.ip_forward
	save_sysctl net.bridge.bridge-nf-call-iptables
	iptables -w -N "${NODE_CHAIN}" 2>/dev/null || iptables -w -F "${NODE_CHAIN}"
	iptables -w -A "${NODE_CHAIN}" -i "${BRIDGE}" -o "${BRIDGE}" -j ACCEPT
	iptables -w -A "${NODE_CHAIN}" -i "${BRIDGE}" -j DROP -m comment --comment "pods reach nothing off the machine"
	iptables -w -A "${NODE_CHAIN}" -o "${BRIDGE}" -j DROP -m comment --comment "nothing is forwarded into pods"
	iptables -w -C FORWARD -j "${NODE_CHAIN}" 2>/dev/null || iptables -w -I FORWARD 1 -j "${NODE_CHAIN}"
}

node_network_down() {
	ip link show "${BRIDGE}" >/dev/null 2>&1 && ip link delete "${BRIDGE}"
	ip route del unreachable "${NODE_RANGE}" 2>/dev/null || true
	ip route del "${SERVICE_CIDR}" 2>/dev/null || true
	ip addr del "${NODE_IP}/32" dev lo 2>/dev/null || true
	local saved key
	for saved in "${NODE_RUN}"/sysctl.*; do
		[[ -f "${saved}" ]] || continue
		key="${saved##*/sysctl.}"
		cat "${saved}" >"/proc/sys/${key//.//}" && rm -f "${saved}"
	done
	return 0
}

# clean_chains <iptables|ip6tables>: the tables without KUBE-* and SWITCHBOARD-* chains and the rules
# jumping to them, restored in one go (everything else in the tables is kept as it was).
clean_chains() {
	local ipt="$1" table dump
	for table in filter nat mangle raw; do
		dump="$("${ipt}-save" -t "${table}" 2>/dev/null)" || continue
		grep -qE '(KUBE|SWITCHBOARD)-' <<<"${dump}" || continue
		grep -vE '^:(KUBE|SWITCHBOARD)-|^-A (KUBE|SWITCHBOARD)-|-j (KUBE|SWITCHBOARD)-' <<<"${dump}" |
			"${ipt}-restore" -w || log "warning: could not clean ${ipt} table ${table}"
	done
}

# --------------------------------------------------------------------------
# Configuration files
# --------------------------------------------------------------------------
node_write_configs() { # node_write_configs <api server URL> <kubelet port> <kubelet healthz port> <proxy healthz port> <proxy metrics port>
	local server="$1" kubelet_port="$2" kubelet_healthz="$3" proxy_healthz="$4" proxy_metrics="$5" d
	mkdir -p "${NODE_DIR}"/{containerd,cni/net.d,cni/ipam,kubelet,pod-logs} "${NODE_RUN}"
	for d in "${NODE_HOST_DIRS[@]}"; do
		[[ -d "${d}" ]] || { mkdir -p "${d}" && touch "${d}/${HOST_DIR_MARKER}"; }
	done
	write_containerd_config
	write_cni_config
	write_kubeconfig "${NODE_DIR}/kubelet.kubeconfig" "${server}" "system:node:${NODE_NAME}" \
		"${PKI_DIR}/kubelet-client.crt" "${PKI_DIR}/kubelet-client.key"
	write_kubeconfig "${NODE_DIR}/kube-proxy.kubeconfig" "${server}" system:kube-proxy \
		"${PKI_DIR}/kube-proxy.crt" "${PKI_DIR}/kube-proxy.key"
	: >"${NODE_DIR}/resolv.conf" # pods get no name server: nothing to resolve, and no DNS off the machine
	write_kubelet_config "${kubelet_port}" "${kubelet_healthz}"
	write_kube_proxy_config "${proxy_healthz}" "${proxy_metrics}"
}

write_containerd_config() {
	cat >"${NODE_DIR}/containerd.toml" <<EOF
version = 2
root = "${NODE_DIR}/containerd/root"
state = "${NODE_RUN}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${CONTAINERD_SOCK}"
[ttrpc]
  address = "${NODE_RUN}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${NODE_DIR}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # runc cannot write /proc/self/oom_score_adj below its parent's here (no CAP_SYS_RESOURCE in the VM):
  # "can't get final child's PID from pipe: EOF". Clamp the kubelet's values instead.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${NODE_DIR}/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    # No registry is reachable; images are imported (tests/cluster/images.sh) and pods use
    # imagePullPolicy Never. A pull of anything else goes to this closed port on this machine.
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
      endpoint = ["http://127.0.0.1:9"]
EOF
}

write_cni_config() {
	cat >"${NODE_DIR}/cni/net.d/10-switchboard.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "switchboard",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${BRIDGE}",
      "isGateway": true,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "${NODE_DIR}/cni/ipam",
        "ranges": [[{"subnet": "${POD_CIDR}", "gateway": "${POD_GATEWAY}"}]],
        "routes": [{"dst": "${NODE_IP}/32"}, {"dst": "${SERVICE_CIDR}"}]
      }
    }
  ]
}
EOF
}

write_kubelet_config() { # write_kubelet_config <port> <healthz port>
	cat >"${NODE_DIR}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: $1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $2
tlsCertFile: ${PKI_DIR}/kubelet-serving.crt
tlsPrivateKeyFile: ${PKI_DIR}/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${PKI_DIR}/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
podLogsDir: ${NODE_DIR}/pod-logs
resolvConf: ${NODE_DIR}/resolv.conf
clusterDomain: cluster.local
maxPods: 60
serializeImagePulls: false
# Imported images cannot be pulled again: never garbage-collect them, and never evict for disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
enableServer: true
EOF
}

write_kube_proxy_config() { # write_kube_proxy_config <healthz port> <metrics port>
	cat >"${NODE_DIR}/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: ${NODE_NAME}
bindAddress: ${NODE_IP}
clusterCIDR: ${POD_CIDR}
healthzBindAddress: 127.0.0.1:$1
metricsBindAddress: 127.0.0.1:$2
nodePortAddresses: ["${NODE_IP}/32"]
clientConnection: {kubeconfig: ${NODE_DIR}/kube-proxy.kubeconfig}
iptables: {localhostNodePorts: false, syncPeriod: 30s, minSyncPeriod: 1s}
# Leave the machine's conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# --------------------------------------------------------------------------
# Start
# --------------------------------------------------------------------------
containerd_ready() { ctr --address "${CONTAINERD_SOCK}" version >/dev/null 2>&1; }
node_ready() {
	[[ "$(kc get node "${NODE_NAME}" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == "True" ]]
}

start_containerd() {
	log "starting containerd $(containerd --version | awk '{print $3}') (${CONTAINERD_SOCK})"
	start_proc containerd containerd --config "${NODE_DIR}/containerd.toml"
	wait_until "containerd" containerd_ready
	load_images
}

load_images() {
	SWITCHBOARD_CONTAINERD_SOCK="${CONTAINERD_SOCK}" "${SCRIPT_DIR}/images.sh" load ||
		die "loading the images into containerd failed"
}

start_node_agents() { # start_node_agents: kube-proxy and the kubelet (configs written, containerd up)
	log "starting kube-proxy ${KUBE_VERSION} (iptables)"
	start_proc kube-proxy "$(bin_path kube-proxy)" --config="${NODE_DIR}/kube-proxy.yaml" --v=1
	log "starting kubelet ${KUBE_VERSION} as node ${NODE_NAME} (${NODE_IP})"
	start_proc kubelet "$(bin_path kubelet)" \
		--config="${NODE_DIR}/kubelet.yaml" \
		--kubeconfig="${NODE_DIR}/kubelet.kubeconfig" \
		--root-dir="${NODE_DIR}/kubelet" \
		--cert-dir="${NODE_DIR}/kubelet/pki" \
		--node-ip="${NODE_IP}" \
		--hostname-override="${NODE_NAME}" \
		--v=1
}

# --------------------------------------------------------------------------
# Teardown
# --------------------------------------------------------------------------
delete_pods() { # graceful: each app gets its SIGTERM and its grace period, then the kubelet cleans up
	[[ -f "${KUBECONFIG_PATH}" ]] && comp_pid kubelet >/dev/null && apiserver_ready || return 0
	local left
	left="$(kc get pods --all-namespaces --no-headers 2>/dev/null | wc -l)" || return 0
	[[ "${left}" != 0 ]] || return 0
	log "stopping ${left} pods (graceful: SIGTERM, then their grace period)"
	kc delete pods --all --all-namespaces --wait=false >/dev/null 2>&1 || return 0
	for _ in $(seq 1 $((POD_DELETE_TIMEOUT * 2))); do
		left="$(kc get pods --all-namespaces --no-headers 2>/dev/null | wc -l)" || return 0
		[[ "${left}" == 0 ]] && return 0
		sleep 0.5
	done
	log "warning: ${left} pods still terminating after ${POD_DELETE_TIMEOUT}s; stopping them by force"
}

# pids_matching <text>: processes whose command line contains <text>
pids_matching() {
	local d
	for d in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"${d}/cmdline" | grep -qF -- "$1" && echo "${d#/proc/}"
	done
	return 0
}

binary_pids() { # binary_pids <name> <pid>...: those of the pids that run the binary <name>
	local name="$1" p argv0
	shift
	for p in "$@"; do
		argv0="$(tr '\0' '\n' 2>/dev/null <"/proc/${p}/cmdline" | head -n 1)" || continue
		[[ "${argv0##*/}" != "${name}" ]] || echo "${p}"
	done
	return 0
}

kill_pod_processes() { # every process left in the kubepods cgroups, then the cgroups themselves
	local cg pids
	for _ in 1 2 3 4 5; do
		pids="$(find /sys/fs/cgroup/*/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u || true)"
		[[ -z "${pids}" ]] && break
		# shellcheck disable=SC2086 # one pid per word
		kill -KILL ${pids} 2>/dev/null || true
		sleep 0.2
	done
	for cg in /sys/fs/cgroup/*/kubepods; do
		[[ -d "${cg}" ]] || continue
		find "${cg}" -depth -type d -exec rmdir {} + 2>/dev/null || find "${cg}" -depth -type d -exec rmdir {} \; 2>/dev/null ||
			log "warning: could not remove cgroup ${cg}"
	done
	return 0
}

unmount_under() { # unmount_under <prefix>...: every mount below the prefixes, deepest first
	local prefix target
	for prefix in "$@"; do
		awk '{print $5}' /proc/self/mountinfo | grep -E "^${prefix}(/|$)" | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-
	done | while read -r target; do
		umount "${target}" 2>/dev/null || umount -l "${target}" 2>/dev/null || log "warning: cannot unmount ${target}"
	done || true
}

node_teardown() { # node_teardown [node dir]: stop and remove everything the node made (safe to repeat)
	local node_dir="${1:-${NODE_DIR}}" d shims
	delete_pods
	local c pids
	for c in kubelet kube-proxy containerd; do
		# shellcheck disable=SC2046 # pids, one per word
		pids="$(binary_pids "${c}" $(pids_matching "${node_dir}/"))"
		[[ -n "${pids}" ]] || continue
		log "stopping ${c} (pid ${pids//$'\n'/ })"
		# shellcheck disable=SC2086
		stop_pids "${c}" ${pids}
	done
	shims="$(pids_matching "-address ${CONTAINERD_SOCK}")"
	kill_pod_processes
	# shellcheck disable=SC2086
	[[ -z "${shims}" ]] || { kill -KILL ${shims} 2>/dev/null || true; }
	clean_chains iptables
	clean_chains ip6tables
	for d in /run/netns/cni-*; do
		[[ -e "${d}" ]] || continue
		umount "${d}" 2>/dev/null || umount -l "${d}" 2>/dev/null || true
		rm -f "${d}"
	done
	unmount_under "${node_dir}" "${NODE_RUN}" /run/containerd /var/lib/kubelet
	node_network_down
	for d in "${NODE_HOST_DIRS[@]}"; do
		[[ -f "${d}/${HOST_DIR_MARKER}" ]] && rm -rf --one-file-system "${d}"
	done
	[[ -d "${node_dir}" ]] && rm -rf --one-file-system "${node_dir}"
	rm -rf --one-file-system "${NODE_RUN}"
}
