// CRI messages as google.golang.org/protobuf generates them (k8s.io/cri-api from 1.34;
// FAKECRI_PROTO=v2 in ../../../../k8s-versions.sh). Before 1.34 they were gogo/protobuf
// messages: _compat/proto_gogo.go replaces this file there.

package main

import (
	"google.golang.org/protobuf/proto"

	kubeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// clone deep-copies a CRI message.
func clone[T any, PT interface {
	*T
	proto.Message
}](m PT) PT {
	return proto.Clone(m).(PT)
}

func imageSize(img *kubeapi.Image) uint64 { return img.Size }

func setImageSize(img *kubeapi.Image, n uint64) { img.Size = n }
