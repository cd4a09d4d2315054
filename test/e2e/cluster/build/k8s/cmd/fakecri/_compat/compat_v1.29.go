// Where fakecri's upstream pieces live in Kubernetes 1.29 and 1.30 (FAKECRI_COMPAT=v1.29 in
// k8s-versions.sh): the CRI fake inside k8s.io/kubernetes (pkg/kubelet/cri/remote/fake),
// the CRI streaming server in k8s.io/kubelet/pkg/cri/streaming, and no StreamImages in CRI.
// build.sh copies this file into the generated wrapper module in place of ../compat_v1.36.go.

package main

import (
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/kubelet/pkg/cri/streaming"
	"k8s.io/kubernetes/pkg/kubelet/cri/remote/fake"
)

type RemoteRuntime = fake.RemoteRuntime

var newFakeRemoteRuntime = fake.NewFakeRemoteRuntime

type streamingServer = streaming.Server

var (
	streamingDefaultConfig = streaming.DefaultConfig
	newStreamingServer     = streaming.NewServer
)

type terminalSize = remotecommand.TerminalSize
