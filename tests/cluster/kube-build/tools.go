//go:build tools

// Package tools pins the Kubernetes control-plane commands built by
// tests/cluster/controlplane.sh. Never compiled into anything; the build tag
// keeps `go build ./...` from trying.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
