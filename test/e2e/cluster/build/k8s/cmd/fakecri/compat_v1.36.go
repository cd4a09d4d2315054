// Where fakecri's upstream pieces live in Kubernetes 1.36 and later (FAKECRI_COMPAT=v1.36
// in ../../../../k8s-versions.sh). Older releases use _compat/compat_v1.*.go instead of
// this file: build.sh copies exactly one compat file into the wrapper module it generates.

package main

import (
	"google.golang.org/grpc"

	kubeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-client/pkg/fake"
	"k8s.io/cri-streaming/pkg/streaming"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// RemoteRuntime is upstream's fake CRI runtime (k8s.io/cri-client/pkg/fake since 1.36).
type RemoteRuntime = fake.RemoteRuntime

var newFakeRemoteRuntime = fake.NewFakeRemoteRuntime

// The CRI streaming server (k8s.io/cri-streaming since 1.36).
type streamingServer = streaming.Server

var (
	streamingDefaultConfig = streaming.DefaultConfig
	newStreamingServer     = streaming.NewServer
)

type terminalSize = remotecommandserver.TerminalSize

// StreamImages (feature gate CRIListStreaming, alpha in 1.36) sends the list in one message.
func (f *fakeCRI) StreamImages(req *kubeapi.StreamImagesRequest, stream grpc.ServerStreamingServer[kubeapi.StreamImagesResponse]) error {
	return stream.Send(&kubeapi.StreamImagesResponse{Images: f.images.list(req.GetFilter().GetImage().GetImage())})
}
