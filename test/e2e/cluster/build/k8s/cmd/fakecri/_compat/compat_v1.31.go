// Where fakecri's upstream pieces live in Kubernetes 1.31 to 1.35 (FAKECRI_COMPAT=v1.31 in
// k8s-versions.sh): the CRI fake in k8s.io/cri-client/pkg/fake, the CRI streaming server
// still in k8s.io/kubelet/pkg/cri/streaming, and no StreamImages in CRI. build.sh copies
// this file into the generated wrapper module in place of ../compat_v1.36.go.

package main

import (
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/cri-client/pkg/fake"
	"k8s.io/kubelet/pkg/cri/streaming"
)

type RemoteRuntime = fake.RemoteRuntime

var newFakeRemoteRuntime = fake.NewFakeRemoteRuntime

type streamingServer = streaming.Server

var (
	streamingDefaultConfig = streaming.DefaultConfig
	newStreamingServer     = streaming.NewServer
)

type terminalSize = remotecommand.TerminalSize
