// CRI messages as gogo/protobuf generated them (k8s.io/cri-api up to 1.33; FAKECRI_PROTO=gogo
// in k8s-versions.sh): no protobuf reflection, and the image's size is the field Size_
// (Size is gogo's method). build.sh copies this file in place of ../proto_v2.go.

package main

import kubeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

// clone deep-copies a CRI message (through its own wire encoding).
func clone[T any, PT interface {
	*T
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}](m PT) PT {
	if m == nil {
		return nil
	}
	b, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	n := PT(new(T))
	if err := n.Unmarshal(b); err != nil {
		panic(err)
	}
	return n
}

func imageSize(img *kubeapi.Image) uint64 { return img.Size_ }

func setImageSize(img *kubeapi.Image, n uint64) { img.Size_ = n }
