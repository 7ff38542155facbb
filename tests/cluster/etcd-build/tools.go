//go:build tools

// Package tools pins the etcd server built by tests/cluster/controlplane.sh.
// The build tag keeps it out of every real build.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
