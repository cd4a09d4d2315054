package main

// The image service: an in-memory image store that behaves like containerd's
// CRI image service, preloaded with the images a production node carries, so a
// real kubelet publishes a production-sized status.images (it lists images with
// ListImages every 30 s, sorts them by size and reports the 50 largest,
// nodeStatusMaxImages, each with its RepoDigests then RepoTags as names).
//
// Like containerd:
//   - an image's Id is "sha256:<config digest>", RepoTags are "registry/repo:tag",
//     RepoDigests "registry/repo@sha256:<manifest digest>";
//   - references are normalized the way containerd does (docker.io/library/ for
//     short Docker Hub names, :latest when there is no tag), and an image can be
//     named by its Id, any tag or any digest;
//   - ImageStatus of an absent image answers with no image (not an error), as
//     the kubelet expects before a pull; RemoveImage of an absent one succeeds;
//   - PullImage returns the image Id, which the kubelet then puts in the
//     container config; ContainerStatus reports the tag as the image, the repo
//     digest as ImageRef and the Id as ImageId.
//
// Digests are sha256 of the reference (so the same image has the same digests on
// every node and in every run), sizes are fixed per image: the output is the
// same every time.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"

	kubeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
)

// catalogImage is one preloaded image: a tagged reference and its size in bytes
// (the compressed size, which is what containerd reports).
type catalogImage struct {
	ref    string
	size   uint64
	pinned bool
}

// catalog returns the images a long-running production worker typically holds:
// control plane and node agents, CNI (Calico), CSI, DNS, ingress, monitoring,
// logging, cert-manager, GitOps, service mesh, base images and the
// applications' own. kubeTag is the Kubernetes release tag (v1.36.3). 56 images;
// the kubelet publishes the 50 largest.
func catalog(kubeTag string) []catalogImage {
	return []catalogImage{
		// Node and control plane (kubeadm's images).
		{"registry.k8s.io/pause:3.10.1", 320_448, true}, // the sandbox image; containerd pins it
		{"registry.k8s.io/kube-apiserver:" + kubeTag, 30_118_402, false},
		{"registry.k8s.io/kube-controller-manager:" + kubeTag, 27_645_913, false},
		{"registry.k8s.io/kube-scheduler:" + kubeTag, 21_207_751, false},
		{"registry.k8s.io/kube-proxy:" + kubeTag, 31_926_340, false},
		{"registry.k8s.io/etcd:3.6.5-0", 23_641_797, false},
		{"registry.k8s.io/coredns/coredns:v1.12.4", 22_384_805, false},
		{"registry.k8s.io/dns/k8s-dns-node-cache:1.26.4", 30_712_114, false},
		{"registry.k8s.io/node-problem-detector/node-problem-detector:v0.8.21", 58_315_722, false},
		{"registry.k8s.io/cpa/cluster-proportional-autoscaler:v1.10.2", 16_118_635, false},
		{"registry.k8s.io/metrics-server/metrics-server:v0.8.0", 20_643_115, false},
		{"registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.17.0", 17_452_336, false},
		{"registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.1", 33_218_764, false},
		{"registry.k8s.io/external-dns/external-dns:v0.19.0", 39_801_226, false},
		// CNI: Calico.
		{"docker.io/calico/node:v3.30.3", 156_862_977, false},
		{"docker.io/calico/cni:v3.30.3", 71_364_810, false},
		{"docker.io/calico/kube-controllers:v3.30.3", 35_106_449, false},
		{"docker.io/calico/typha:v3.30.3", 31_741_252, false},
		{"docker.io/calico/csi:v3.30.3", 9_378_540, false},
		{"docker.io/calico/node-driver-registrar:v3.30.3", 12_010_836, false},
		// CSI: the NFS driver and the sidecars.
		{"registry.k8s.io/sig-storage/nfsplugin:v4.12.1", 62_571_590, false},
		{"registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.15.0", 14_193_388, false},
		{"registry.k8s.io/sig-storage/livenessprobe:v2.17.0", 13_627_051, false},
		{"registry.k8s.io/sig-storage/csi-provisioner:v5.3.0", 31_297_044, false},
		{"registry.k8s.io/sig-storage/csi-attacher:v4.10.0", 29_785_612, false},
		{"registry.k8s.io/sig-storage/csi-resizer:v1.14.0", 29_104_873, false},
		{"registry.k8s.io/sig-storage/csi-snapshotter:v8.3.0", 28_412_296, false},
		// Ingress.
		{"registry.k8s.io/ingress-nginx/controller:v1.13.3", 110_884_052, false},
		{"registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.3", 25_731_617, false},
		// Monitoring and logging.
		{"quay.io/prometheus/node-exporter:v1.9.1", 12_454_097, false},
		{"quay.io/prometheus/prometheus:v3.6.0", 131_940_603, false},
		{"quay.io/prometheus/alertmanager:v0.28.1", 31_125_208, false},
		{"quay.io/prometheus-operator/prometheus-operator:v0.86.0", 17_884_516, false},
		{"quay.io/prometheus-operator/prometheus-config-reloader:v0.86.0", 14_270_990, false},
		{"docker.io/grafana/grafana:12.2.0", 182_416_340, false},
		{"docker.io/grafana/alloy:v1.11.0", 151_005_877, false},
		{"quay.io/kiwigrid/k8s-sidecar:1.30.10", 41_628_455, false},
		{"docker.io/fluent/fluent-bit:4.1.0", 36_477_019, false},
		{"docker.io/otel/opentelemetry-collector-contrib:0.136.0", 92_640_288, false},
		// Certificates, GitOps, mesh, backup.
		{"quay.io/jetstack/cert-manager-controller:v1.18.2", 20_733_871, false},
		{"quay.io/jetstack/cert-manager-webhook:v1.18.2", 18_013_704, false},
		{"quay.io/jetstack/cert-manager-cainjector:v1.18.2", 17_006_225, false},
		{"quay.io/argoproj/argocd:v3.1.8", 184_722_904, false},
		{"docker.io/istio/proxyv2:1.27.1", 97_401_513, false},
		{"docker.io/istio/pilot:1.27.1", 72_835_306, false},
		{"docker.io/velero/velero:v1.16.2", 78_246_601, false},
		// Base images.
		{"docker.io/library/busybox:1.37.0", 2_223_286, false},
		{"docker.io/library/alpine:3.22.1", 3_802_452, false},
		{"docker.io/library/nginx:1.29.1", 72_318_470, false},
		{"docker.io/library/redis:8.2.1", 52_441_965, false},
		{"docker.io/library/postgres:17.6", 158_732_410, false},
		{"docker.io/library/python:3.13-slim", 44_909_822, false},
		// The applications.
		{"registry.example.com/shop/frontend:4.21.0", 143_817_229, false},
		{"registry.example.com/shop/checkout:2.14.3", 88_506_114, false},
		{"registry.example.com/shop/catalog:3.8.12", 211_363_087, false},
		{"registry.example.com/shop/payments:1.42.0", 97_962_650, false},
	}
}

// normalizeRef names an image the way containerd's reference parser does:
// "nginx" -> "docker.io/library/nginx:latest", "calico/node:v3" ->
// "docker.io/calico/node:v3". Ids ("sha256:...") are returned as they are.
func normalizeRef(ref string) string {
	if strings.HasPrefix(ref, "sha256:") || ref == "" {
		return ref
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	first, _, hasSlash := strings.Cut(name, "/")
	if !hasSlash {
		name = "docker.io/library/" + name
	} else if !strings.ContainsAny(first, ".:") && first != "localhost" {
		name = "docker.io/" + name
	}
	if hasDigest {
		return name + "@" + digest
	}
	if !strings.Contains(name[strings.LastIndex(name, "/")+1:], ":") {
		name += ":latest"
	}
	return name
}

// splitRef splits a normalized reference into repository, tag and digest (one
// of tag and digest is empty).
func splitRef(ref string) (repo, tag, digest string) {
	if name, d, ok := strings.Cut(ref, "@"); ok {
		return name, "", d
	}
	i := strings.LastIndex(ref, ":")
	if i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:], ""
	}
	return ref, "latest", ""
}

func sha256Hex(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// newImage builds the image a registry would serve for ref (normalized),
// with deterministic digests.
func newImage(ref string, size uint64, pinned bool) *kubeapi.Image {
	repo, tag, digest := splitRef(ref)
	img := &kubeapi.Image{Pinned: pinned}
	setImageSize(img, size)
	if digest != "" {
		img.RepoDigests = []string{ref}
		img.Id = "sha256:" + sha256Hex("fakecri/config", ref)
	} else {
		img.RepoTags = []string{ref}
		img.RepoDigests = []string{repo + "@sha256:" + sha256Hex("fakecri/manifest", ref)}
		img.Id = "sha256:" + sha256Hex("fakecri/config", repo+":"+tag)
	}
	img.Spec = &kubeapi.ImageSpec{Image: img.Id}
	return img
}

// derivedSize is the size of a pulled image that is not in the catalog when
// --image-size is 0: 5 to 300 MB, fixed per reference.
func derivedSize(ref string) uint64 {
	h := sha256.Sum256([]byte(ref))
	n := uint64(h[0])<<16 | uint64(h[1])<<8 | uint64(h[2])
	return 5_000_000 + n%295_000_000
}

type imageStore struct {
	mu         sync.Mutex
	images     []*kubeapi.Image // in the order they arrived
	pulledSize uint64           // size of a pulled image that is not in the catalog; 0: derived
}

func newImageStore(preload []catalogImage, pulledSize uint64) *imageStore {
	s := &imageStore{pulledSize: pulledSize}
	for _, c := range preload {
		s.images = append(s.images, newImage(normalizeRef(c.ref), c.size, c.pinned))
	}
	return s
}

// find returns the image named ref (an Id, a full or short Id prefix of 12+
// hex digits, a tag or a digest reference); s.mu must be held.
func (s *imageStore) find(ref string) (int, *kubeapi.Image) {
	if ref == "" {
		return -1, nil
	}
	n := normalizeRef(ref)
	for i, img := range s.images {
		if img.Id == ref || img.Id == "sha256:"+ref {
			return i, img
		}
		for _, t := range img.RepoTags {
			if t == n {
				return i, img
			}
		}
		for _, d := range img.RepoDigests {
			if d == n {
				return i, img
			}
		}
	}
	if len(ref) >= 12 && strings.Trim(ref, "0123456789abcdef") == "" {
		for i, img := range s.images {
			if strings.HasPrefix(img.Id, "sha256:"+ref) {
				return i, img
			}
		}
	}
	return -1, nil
}

func (s *imageStore) get(ref string) *kubeapi.Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, img := s.find(ref); img != nil {
		return clone(img)
	}
	return nil
}

func (s *imageStore) list(filter string) []*kubeapi.Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*kubeapi.Image
	if filter != "" {
		if _, img := s.find(filter); img != nil {
			out = append(out, clone(img))
		}
		return out
	}
	out = make([]*kubeapi.Image, 0, len(s.images))
	for _, img := range s.images {
		out = append(out, clone(img))
	}
	return out
}

// pull returns the Id of the image ref, adding it when it is not there.
func (s *imageStore) pull(ref string) (id string, added bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, img := s.find(ref); img != nil {
		return img.Id, false
	}
	n := normalizeRef(ref)
	size := s.pulledSize
	if size == 0 {
		size = derivedSize(n)
	}
	img := newImage(n, size, false)
	s.images = append(s.images, img)
	return img.Id, true
}

func (s *imageStore) remove(ref string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, img := s.find(ref)
	if img == nil {
		return false
	}
	s.images = append(s.images[:i], s.images[i+1:]...)
	return true
}

func (s *imageStore) usedBytes() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var used uint64
	for _, img := range s.images {
		used += imageSize(img)
	}
	return used
}

// The CRI image service, served from the store (the upstream fake's image
// service is not used).

func (f *fakeCRI) ListImages(ctx context.Context, req *kubeapi.ListImagesRequest) (*kubeapi.ListImagesResponse, error) {
	return &kubeapi.ListImagesResponse{Images: f.images.list(req.GetFilter().GetImage().GetImage())}, nil
}

// StreamImages (feature gate CRIListStreaming, alpha in 1.36) sends the list in one message.

func (f *fakeCRI) ImageStatus(ctx context.Context, req *kubeapi.ImageStatusRequest) (*kubeapi.ImageStatusResponse, error) {
	return &kubeapi.ImageStatusResponse{Image: f.images.get(req.GetImage().GetImage())}, nil
}

func (f *fakeCRI) PullImage(ctx context.Context, req *kubeapi.PullImageRequest) (*kubeapi.PullImageResponse, error) {
	id, added := f.images.pull(req.GetImage().GetImage())
	klog.InfoS("PullImage (fake, instant)", "image", req.GetImage().GetImage(), "id", id, "new", added)
	return &kubeapi.PullImageResponse{ImageRef: id}, nil
}

func (f *fakeCRI) RemoveImage(ctx context.Context, req *kubeapi.RemoveImageRequest) (*kubeapi.RemoveImageResponse, error) {
	removed := f.images.remove(req.GetImage().GetImage())
	klog.InfoS("RemoveImage", "image", req.GetImage().GetImage(), "removed", removed)
	return &kubeapi.RemoveImageResponse{}, nil
}

// imageNames returns what containerd reports in a container's status for the
// image the container was created from (imageRef is the Id the kubelet put in
// the container config): the tag as the image, the repo digest as ImageRef and
// the Id as ImageId. ok is false when the image is not in the store.
func (f *fakeCRI) imageNames(imageRef string) (image, ref, id string, ok bool) {
	img := f.images.get(imageRef)
	if img == nil {
		return "", "", "", false
	}
	image, ref, id = img.Id, img.Id, img.Id
	if len(img.RepoTags) > 0 {
		image = img.RepoTags[0]
	}
	if len(img.RepoDigests) > 0 {
		ref = img.RepoDigests[0]
	}
	return image, ref, id, true
}
