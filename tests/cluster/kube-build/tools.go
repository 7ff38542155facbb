//go:build tools

// Package tools pins the Kubernetes commands built by tests/cluster/controlplane.sh:
// the control plane and the node (kubelet, kube-proxy). Never compiled into
// anything; the build tag keeps `go build ./...` from trying.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
