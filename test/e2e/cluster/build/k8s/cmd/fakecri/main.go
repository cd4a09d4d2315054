// Command fakecri is a fake CRI runtime and image service that a real kubelet
// can use instead of containerd in kvlog's local end-to-end cluster.
//
// It wraps the fake gRPC runtime that upstream uses for kubemark and kubelet
// tests (k8s.io/cri-client/pkg/fake, itself wrapping k8s.io/cri-api's
// FakeRuntimeService): pod sandboxes and containers exist only in memory, no
// process is started for them. Its image service is fakecri's own (images.go):
// image pulls succeed at once.
// On top of that it
//
//   - reports RuntimeReady and NetworkReady, a cgroup driver and an image
//     filesystem, so the node becomes Ready and the kubelet's stats, eviction
//     and image-GC loops get valid (empty) answers;
//   - serves images like containerd (sha256 ids, repo tags and repo digests)
//     from an in-memory store preloaded with the 56 images of a production node
//     (images.go), so the kubelet publishes a production-sized status.images;
//   - makes port-forward real: PortForward hands the kubelet a URL of an
//     upstream CRI streaming server (k8s.io/cri-streaming) whose forwarder dials
//     --forward-host:PORT (127.0.0.1 by default) in the network namespace this
//     process runs in and copies bytes both ways. So `kubectl port-forward` to a
//     static pod reaches a component bound to 127.0.0.1 on the node;
//   - writes one line to each container's log file, so `kubectl logs` works; a
//     container named in --container-log NAME=PATH gets the real output of the host
//     process that stands for it instead: fakecri follows PATH into the container's CRI
//     log file from StartContainer to StopContainer (logs.go);
//   - answers Exec and Attach with a clear error (no process runs).
//
// Usage:
//
//	fakecri --listen /run/kvlog/cri.sock [--streaming-addr 127.0.0.1:0] [--pod-ip IP] [--preload-images=false]
//	        [--container-log NAME=PATH]... [-v 2]
//	fakecri --list-images    print the preloaded images (id, size, names) and exit
//
// and the kubelet with --container-runtime-endpoint=unix:///run/kvlog/cri.sock.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"k8s.io/component-base/version"
	kubeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	apitest "k8s.io/cri-api/pkg/apis/testing"
	"k8s.io/klog/v2"
)

const (
	runtimeName    = "fakecri"
	runtimeVersion = "0.1.0"
	// The kubelet refuses a runtime whose VersionResponse.Version is not "0.1.0"
	// (kubeRuntimeAPIVersion in pkg/kubelet/kuberuntime).
	kubeletRuntimeAPIVersion = "0.1.0"
)

type options struct {
	listen        string
	streamingAddr string
	forwardHost   string
	podIP         string
	cgroupDriver  string
	imageFsPath   string
	imageSize     uint64
	preload       bool
	kubeTag       string
	containerLogs containerLogs
}

func main() {
	o := options{containerLogs: containerLogs{}}
	klog.InitFlags(nil)
	flag.StringVar(&o.listen, "listen", "", "unix socket to serve CRI on (a path or unix:///path); required")
	flag.StringVar(&o.streamingAddr, "streaming-addr", "127.0.0.1:0",
		"host:port of the CRI streaming server (port-forward, exec, attach). The kubelet proxies to "+
			"http://HOST:PORT/..., so it must be reachable from the kubelet's network namespace. Port 0 picks a free port; "+
			"an unspecified host (0.0.0.0) is advertised as 127.0.0.1")
	flag.StringVar(&o.forwardHost, "forward-host", "127.0.0.1",
		"address PortForward dials (with the requested port) in this process's network namespace")
	flag.StringVar(&o.podIP, "pod-ip", "",
		"IP reported for pods that are not hostNetwork (hostNetwork pods get the node's IPs from the kubelet). "+
			"Default: the first global IPv4 address of an up interface in this network namespace, else 127.0.0.1")
	flag.StringVar(&o.cgroupDriver, "cgroup-driver", "cgroupfs",
		"cgroup driver reported to the kubelet through RuntimeConfig (cgroupfs or systemd); the kubelet adopts it")
	flag.StringVar(&o.imageFsPath, "image-fs-path", "",
		"directory reported as the mountpoint of the image and container filesystems (default: the socket's directory)")
	flag.Uint64Var(&o.imageSize, "image-size", 0,
		"size in bytes reported for a pulled image that is not preloaded; 0: 5-300 MB, derived from its name")
	flag.BoolVar(&o.preload, "preload-images", true,
		"start with the images of a production node (images.go); false: start with none, like a fresh containerd")
	// gitVersion is set by build.sh's -ldflags, as for the upstream binaries.
	flag.StringVar(&o.kubeTag, "kube-image-tag", version.Get().GitVersion,
		"tag of the preloaded registry.k8s.io/kube-* images")
	flag.Var(o.containerLogs, "container-log",
		"NAME=PATH (repeatable): a container named NAME gets the lines of the host file PATH as its log "+
			"(CRI format, from StartContainer to StopContainer), e.g. the log of the host process a static pod stands for")
	showVersion := flag.Bool("version", false, "print the version and exit")
	listImages := flag.Bool("list-images", false, "print the preloaded images (id, size in bytes, names) and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("fakecri %s (CRI fakes of Kubernetes %s)\n", runtimeVersion, version.Get().GitVersion)
		return
	}
	if *listImages {
		for _, img := range newImageStore(catalog(o.kubeTag), 0).list("") {
			fmt.Println(img.Id, imageSize(img), strings.Join(append(img.RepoTags, img.RepoDigests...), " "))
		}
		return
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fakecri: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := run(o); err != nil {
		klog.ErrorS(err, "fakecri failed")
		klog.Flush()
		os.Exit(1)
	}
}

func run(o options) error {
	sock := strings.TrimPrefix(o.listen, "unix://")
	if sock == "" {
		return errors.New("--listen is required")
	}
	var driver kubeapi.CgroupDriver
	switch o.cgroupDriver {
	case "cgroupfs":
		driver = kubeapi.CgroupDriver_CGROUPFS
	case "systemd":
		driver = kubeapi.CgroupDriver_SYSTEMD
	default:
		return fmt.Errorf("--cgroup-driver must be cgroupfs or systemd, not %q", o.cgroupDriver)
	}
	if o.imageFsPath == "" {
		o.imageFsPath = filepath.Dir(sock)
	}
	if abs, err := filepath.Abs(o.imageFsPath); err == nil {
		o.imageFsPath = abs
	}
	if o.podIP == "" {
		o.podIP = detectPodIP()
	}
	if net.ParseIP(o.podIP) == nil {
		return fmt.Errorf("--pod-ip %q is not an IP address", o.podIP)
	}
	// Read by the fake's RunPodSandbox; set before any request is served.
	apitest.FakePodSandboxIPs = []string{o.podIP}

	// Streaming server: listen first, so the advertised URL has the real port.
	sl, err := net.Listen("tcp", o.streamingAddr)
	if err != nil {
		return fmt.Errorf("streaming server: %w", err)
	}
	advertised := sl.Addr().(*net.TCPAddr)
	host := advertised.IP.String()
	if advertised.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	baseURL := &url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(advertised.Port))}
	cfg := streamingDefaultConfig
	cfg.Addr = sl.Addr().String()
	cfg.BaseURL = baseURL
	fr := &forwarder{host: o.forwardHost}
	ss, err := newStreamingServer(cfg, fr)
	if err != nil {
		return fmt.Errorf("streaming server: %w", err)
	}
	httpSrv := &http.Server{Handler: ss, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := httpSrv.Serve(sl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "streaming server stopped")
			os.Exit(1)
		}
	}()

	rt := newFakeRemoteRuntime()
	rt.RuntimeService.FakeStatus = &kubeapi.RuntimeStatus{
		Conditions: []*kubeapi.RuntimeCondition{
			{Type: kubeapi.RuntimeReady, Status: true},
			{Type: kubeapi.NetworkReady, Status: true},
		},
	}
	rt.RuntimeService.FakeLinuxConfiguration = &kubeapi.LinuxRuntimeConfiguration{CgroupDriver: driver}
	var preload []catalogImage
	if o.preload {
		preload = catalog(o.kubeTag)
	}
	f := &fakeCRI{RemoteRuntime: rt, streams: ss, imageFsPath: o.imageFsPath, images: newImageStore(preload, o.imageSize),
		logs: newLogTailers(o.containerLogs)}

	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		return err
	}
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	gl, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sock, err)
	}
	gs := grpc.NewServer(
		grpc.UnaryInterceptor(logUnary),
		grpc.StreamInterceptor(logStream),
		// The kubelet's client sends and accepts up to 16 MiB.
		grpc.MaxRecvMsgSize(16<<20), grpc.MaxSendMsgSize(16<<20),
	)
	kubeapi.RegisterRuntimeServiceServer(gs, f)
	kubeapi.RegisterImageServiceServer(gs, f)

	// The fakes append every call to a Called slice (for test assertions);
	// trim it now and then so a long-running node does not grow without bound.
	go func() {
		for range time.Tick(time.Minute) {
			rt.RuntimeService.Lock()
			rt.RuntimeService.Called = rt.RuntimeService.Called[:0]
			rt.RuntimeService.Unlock()
			rt.ImageService.Lock()
			rt.ImageService.Called = rt.ImageService.Called[:0]
			rt.ImageService.Unlock()
		}
	}()

	klog.InfoS("fakecri serving", "socket", sock, "streamingURL", baseURL.String(),
		"forwardHost", o.forwardHost, "podIP", o.podIP, "cgroupDriver", o.cgroupDriver, "imageFsPath", o.imageFsPath,
		"images", len(preload), "containerLogs", o.containerLogs.String())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(gl) }()
	select {
	case s := <-sigs:
		klog.InfoS("fakecri stopping", "signal", s.String())
		done := make(chan struct{})
		go func() { gs.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			gs.Stop()
		}
		_ = httpSrv.Close()
		_ = os.Remove(sock)
		klog.Flush()
		return nil
	case err := <-errc:
		_ = os.Remove(sock)
		return err
	}
}

// detectPodIP returns the first global unicast IPv4 address of an up,
// non-loopback interface, else 127.0.0.1.
func detectPodIP() string {
	ifaces, err := net.Interfaces()
	if err == nil {
		for _, ifc := range ifaces {
			if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
				continue
			}
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
					return ipn.IP.String()
				}
			}
		}
	}
	return "127.0.0.1"
}

// fakeCRI is the upstream fake with the calls a real kubelet needs overridden.
type fakeCRI struct {
	*RemoteRuntime
	streams     streamingServer
	imageFsPath string
	images      *imageStore
	logs        *logTailers
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func notFound(format string, args ...any) error {
	return status.Errorf(codes.NotFound, format, args...)
}

func (f *fakeCRI) hasSandbox(id string) bool {
	f.RuntimeService.Lock()
	defer f.RuntimeService.Unlock()
	_, ok := f.RuntimeService.Sandboxes[id]
	return ok
}

func (f *fakeCRI) container(id string) (*apitest.FakeContainer, bool) {
	f.RuntimeService.Lock()
	defer f.RuntimeService.Unlock()
	c, ok := f.RuntimeService.Containers[id]
	return c, ok
}

// Version reports a runtime name the node status shows as fakecri://0.1.0.
func (f *fakeCRI) Version(ctx context.Context, req *kubeapi.VersionRequest) (*kubeapi.VersionResponse, error) {
	return &kubeapi.VersionResponse{
		Version:           kubeletRuntimeAPIVersion,
		RuntimeName:       runtimeName,
		RuntimeVersion:    runtimeVersion,
		RuntimeApiVersion: "v1",
	}, nil
}

func (f *fakeCRI) RunPodSandbox(ctx context.Context, req *kubeapi.RunPodSandboxRequest) (*kubeapi.RunPodSandboxResponse, error) {
	resp, err := f.RemoteRuntime.RunPodSandbox(ctx, req)
	if err != nil {
		return nil, err
	}
	// The upstream fake names the sandbox NAME_NAMESPACE_UID_ATTEMPT; give it a
	// 64-hex id as real runtimes do (the kubelet parses container ids out of
	// file names, and a '-' in an id confuses it).
	f.RuntimeService.Lock()
	if s, ok := f.RuntimeService.Sandboxes[resp.PodSandboxId]; ok {
		delete(f.RuntimeService.Sandboxes, resp.PodSandboxId)
		s.Id = newID()
		f.RuntimeService.Sandboxes[s.Id] = s
		resp.PodSandboxId = s.Id
	}
	f.RuntimeService.Unlock()
	md := req.GetConfig().GetMetadata()
	hostNet := req.GetConfig().GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == kubeapi.NamespaceMode_NODE
	klog.InfoS("RunPodSandbox", "pod", md.GetNamespace()+"/"+md.GetName(), "uid", md.GetUid(),
		"attempt", md.GetAttempt(), "hostNetwork", hostNet, "sandbox", resp.PodSandboxId)
	return resp, nil
}

// StopPodSandbox is idempotent (as CRI requires) and stops the sandbox's containers.
func (f *fakeCRI) StopPodSandbox(ctx context.Context, req *kubeapi.StopPodSandboxRequest) (*kubeapi.StopPodSandboxResponse, error) {
	id := req.GetPodSandboxId()
	if !f.hasSandbox(id) {
		klog.V(2).InfoS("StopPodSandbox: unknown sandbox, nothing to do", "sandbox", id)
		return &kubeapi.StopPodSandboxResponse{}, nil
	}
	f.RuntimeService.Lock()
	now := time.Now().UnixNano()
	var stopped []string
	for _, c := range f.RuntimeService.Containers {
		if c.SandboxID == id && c.State != kubeapi.ContainerState_CONTAINER_EXITED {
			c.State = kubeapi.ContainerState_CONTAINER_EXITED
			c.FinishedAt = now
			stopped = append(stopped, c.Id)
		}
	}
	f.RuntimeService.Unlock()
	for _, cid := range stopped {
		f.logs.stop(cid)
	}
	klog.InfoS("StopPodSandbox", "sandbox", id)
	return f.RemoteRuntime.StopPodSandbox(ctx, req)
}

// RemovePodSandbox also removes the sandbox's containers.
func (f *fakeCRI) RemovePodSandbox(ctx context.Context, req *kubeapi.RemovePodSandboxRequest) (*kubeapi.RemovePodSandboxResponse, error) {
	id := req.GetPodSandboxId()
	f.RuntimeService.Lock()
	var removed []string
	for cid, c := range f.RuntimeService.Containers {
		if c.SandboxID == id {
			delete(f.RuntimeService.Containers, cid)
			removed = append(removed, cid)
		}
	}
	f.RuntimeService.Unlock()
	for _, cid := range removed {
		f.logs.stop(cid)
	}
	klog.InfoS("RemovePodSandbox", "sandbox", id)
	return f.RemoteRuntime.RemovePodSandbox(ctx, req)
}

func (f *fakeCRI) PodSandboxStatus(ctx context.Context, req *kubeapi.PodSandboxStatusRequest) (*kubeapi.PodSandboxStatusResponse, error) {
	if !f.hasSandbox(req.GetPodSandboxId()) {
		return nil, notFound("pod sandbox %q not found", req.GetPodSandboxId())
	}
	return f.RemoteRuntime.PodSandboxStatus(ctx, req)
}

// CreateContainer records the container's log path and writes one line to it.
func (f *fakeCRI) CreateContainer(ctx context.Context, req *kubeapi.CreateContainerRequest) (*kubeapi.CreateContainerResponse, error) {
	if !f.hasSandbox(req.GetPodSandboxId()) {
		return nil, notFound("pod sandbox %q not found", req.GetPodSandboxId())
	}
	resp, err := f.RemoteRuntime.CreateContainer(ctx, req)
	if err != nil {
		return nil, err
	}
	f.RuntimeService.Lock()
	if c, ok := f.RuntimeService.Containers[resp.ContainerId]; ok {
		delete(f.RuntimeService.Containers, resp.ContainerId)
		c.Id = newID()
		f.RuntimeService.Containers[c.Id] = c
		resp.ContainerId = c.Id
	}
	f.RuntimeService.Unlock()
	logPath := ""
	if dir, rel := req.GetSandboxConfig().GetLogDirectory(), req.GetConfig().GetLogPath(); dir != "" && rel != "" {
		logPath = filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err == nil {
			line := fmt.Sprintf("%s stdout F fakecri: container %s created; no process runs in it\n",
				time.Now().UTC().Format(time.RFC3339Nano), req.GetConfig().GetMetadata().GetName())
			if f.logs.mapped(req.GetConfig().GetMetadata().GetName()) {
				line = "" // its log is its host process's, from StartContainer on (logs.go)
			}
			if err := os.WriteFile(logPath, []byte(line), 0o640); err != nil {
				klog.V(2).InfoS("cannot write container log", "path", logPath, "err", err)
			}
		}
	}
	f.RuntimeService.Lock()
	if c, ok := f.RuntimeService.Containers[resp.ContainerId]; ok {
		c.LogPath = logPath
	}
	f.RuntimeService.Unlock()
	md := req.GetSandboxConfig().GetMetadata()
	klog.InfoS("CreateContainer", "pod", md.GetNamespace()+"/"+md.GetName(),
		"container", req.GetConfig().GetMetadata().GetName(), "image", req.GetConfig().GetImage().GetImage(),
		"id", resp.ContainerId)
	return resp, nil
}

func (f *fakeCRI) StartContainer(ctx context.Context, req *kubeapi.StartContainerRequest) (*kubeapi.StartContainerResponse, error) {
	c, ok := f.container(req.GetContainerId())
	if !ok {
		return nil, notFound("container %q not found", req.GetContainerId())
	}
	klog.InfoS("StartContainer", "id", req.GetContainerId())
	resp, err := f.RemoteRuntime.StartContainer(ctx, req)
	if err == nil {
		f.RuntimeService.Lock()
		name, logPath := c.GetMetadata().GetName(), c.LogPath
		f.RuntimeService.Unlock()
		f.logs.start(req.GetContainerId(), name, logPath)
	}
	return resp, err
}

// StopContainer is idempotent, as CRI requires.
func (f *fakeCRI) StopContainer(ctx context.Context, req *kubeapi.StopContainerRequest) (*kubeapi.StopContainerResponse, error) {
	if _, ok := f.container(req.GetContainerId()); !ok {
		klog.V(2).InfoS("StopContainer: unknown container, nothing to do", "id", req.GetContainerId())
		return &kubeapi.StopContainerResponse{}, nil
	}
	klog.InfoS("StopContainer", "id", req.GetContainerId())
	f.logs.stop(req.GetContainerId())
	return f.RemoteRuntime.StopContainer(ctx, req)
}

func (f *fakeCRI) RemoveContainer(ctx context.Context, req *kubeapi.RemoveContainerRequest) (*kubeapi.RemoveContainerResponse, error) {
	klog.InfoS("RemoveContainer", "id", req.GetContainerId())
	f.logs.stop(req.GetContainerId())
	return f.RemoteRuntime.RemoveContainer(ctx, req)
}

// ContainerStatus names the image as containerd does: the tag as the image, the
// repo digest as ImageRef (the pod's status.containerStatuses[].imageID) and the
// image id as ImageId.
func (f *fakeCRI) ContainerStatus(ctx context.Context, req *kubeapi.ContainerStatusRequest) (*kubeapi.ContainerStatusResponse, error) {
	if _, ok := f.container(req.GetContainerId()); !ok {
		return nil, notFound("container %q not found", req.GetContainerId())
	}
	resp, err := f.RemoteRuntime.ContainerStatus(ctx, req)
	if err != nil || resp.GetStatus() == nil {
		return resp, err
	}
	st := resp.Status
	if image, ref, id, ok := f.imageNames(st.GetImageRef()); ok {
		spec := clone(st.GetImage())
		if spec == nil {
			spec = &kubeapi.ImageSpec{}
		}
		spec.Image = image
		st.Image, st.ImageRef = spec, ref
		// ContainerStatus.ImageId is in CRI from 1.30: set it where the field exists.
		if fld := reflect.ValueOf(st).Elem().FieldByName("ImageId"); fld.IsValid() && fld.Kind() == reflect.String {
			fld.SetString(id)
		}
	}
	return resp, nil
}

func (f *fakeCRI) UpdateContainerResources(ctx context.Context, req *kubeapi.UpdateContainerResourcesRequest) (*kubeapi.UpdateContainerResourcesResponse, error) {
	if _, ok := f.container(req.GetContainerId()); !ok {
		return nil, notFound("container %q not found", req.GetContainerId())
	}
	return f.RemoteRuntime.UpdateContainerResources(ctx, req)
}

// ContainerStats answers with the container's identity and no usage figures.
func (f *fakeCRI) ContainerStats(ctx context.Context, req *kubeapi.ContainerStatsRequest) (*kubeapi.ContainerStatsResponse, error) {
	f.RuntimeService.Lock()
	c, ok := f.RuntimeService.Containers[req.GetContainerId()]
	var attrs *kubeapi.ContainerAttributes
	if ok {
		attrs = &kubeapi.ContainerAttributes{Id: c.Id, Metadata: clone(c.Metadata),
			Labels: c.Labels, Annotations: c.Annotations}
	}
	f.RuntimeService.Unlock()
	if !ok {
		return nil, notFound("container %q not found", req.GetContainerId())
	}
	return &kubeapi.ContainerStatsResponse{Stats: &kubeapi.ContainerStats{Attributes: attrs}}, nil
}

// PodSandboxStats answers with the sandbox's identity and no usage figures
// (the kubelet then falls back to cAdvisor).
func (f *fakeCRI) PodSandboxStats(ctx context.Context, req *kubeapi.PodSandboxStatsRequest) (*kubeapi.PodSandboxStatsResponse, error) {
	f.RuntimeService.Lock()
	s, ok := f.RuntimeService.Sandboxes[req.GetPodSandboxId()]
	var attrs *kubeapi.PodSandboxAttributes
	if ok {
		attrs = &kubeapi.PodSandboxAttributes{Id: s.Id, Metadata: clone(s.Metadata),
			Labels: s.Labels, Annotations: s.Annotations}
	}
	f.RuntimeService.Unlock()
	if !ok {
		return nil, notFound("pod sandbox %q not found", req.GetPodSandboxId())
	}
	return &kubeapi.PodSandboxStatsResponse{Stats: &kubeapi.PodSandboxStats{Attributes: attrs}}, nil
}

// GetContainerEvents (EventedPLEG) sends no events but holds the stream open,
// so a kubelet with EventedPLEG on does not reconnect in a tight loop.
func (f *fakeCRI) GetContainerEvents(req *kubeapi.GetEventsRequest, s kubeapi.RuntimeService_GetContainerEventsServer) error {
	<-s.Context().Done()
	return nil
}

// ImageFsInfo reports one filesystem (mountpoint --image-fs-path) for images
// and containers; the kubelet's stats provider needs at least one of each.
func (f *fakeCRI) ImageFsInfo(ctx context.Context, req *kubeapi.ImageFsInfoRequest) (*kubeapi.ImageFsInfoResponse, error) {
	used := f.images.usedBytes()
	now := time.Now().UnixNano()
	usage := func(bytes uint64) []*kubeapi.FilesystemUsage {
		return []*kubeapi.FilesystemUsage{{
			Timestamp:  now,
			FsId:       &kubeapi.FilesystemIdentifier{Mountpoint: f.imageFsPath},
			UsedBytes:  &kubeapi.UInt64Value{Value: bytes},
			InodesUsed: &kubeapi.UInt64Value{Value: 0},
		}}
	}
	return &kubeapi.ImageFsInfoResponse{ImageFilesystems: usage(used), ContainerFilesystems: usage(0)}, nil
}

// PortForward hands out a URL of the streaming server; the kubelet proxies the
// client's port-forward stream to it.
func (f *fakeCRI) PortForward(ctx context.Context, req *kubeapi.PortForwardRequest) (*kubeapi.PortForwardResponse, error) {
	if !f.hasSandbox(req.GetPodSandboxId()) {
		return nil, notFound("pod sandbox %q not found", req.GetPodSandboxId())
	}
	resp, err := f.streams.GetPortForward(req)
	if err != nil {
		return nil, err
	}
	klog.InfoS("PortForward", "sandbox", req.GetPodSandboxId(), "ports", req.GetPort(), "url", resp.Url)
	return resp, nil
}

func (f *fakeCRI) Exec(ctx context.Context, req *kubeapi.ExecRequest) (*kubeapi.ExecResponse, error) {
	if _, ok := f.container(req.GetContainerId()); !ok {
		return nil, notFound("container %q not found", req.GetContainerId())
	}
	return f.streams.GetExec(req)
}

func (f *fakeCRI) Attach(ctx context.Context, req *kubeapi.AttachRequest) (*kubeapi.AttachResponse, error) {
	if _, ok := f.container(req.GetContainerId()); !ok {
		return nil, notFound("container %q not found", req.GetContainerId())
	}
	return f.streams.GetAttach(req)
}

// forwarder is the streaming server's runtime.
type forwarder struct {
	host  string
	conns atomic.Int64
}

var errNoProcess = errors.New("fakecri: no process runs in a fake container (exec and attach are not supported)")

func (fw *forwarder) Exec(ctx context.Context, containerID string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan terminalSize) error {
	klog.InfoS("Exec refused", "id", containerID, "cmd", cmd)
	return errNoProcess
}

func (fw *forwarder) Attach(ctx context.Context, containerID string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan terminalSize) error {
	klog.InfoS("Attach refused", "id", containerID)
	return errNoProcess
}

// PortForward copies bytes between the client's stream and host:port, the way
// containerd does inside a pod's network namespace.
func (fw *forwarder) PortForward(ctx context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error {
	n := fw.conns.Add(1)
	addr := net.JoinHostPort(fw.host, strconv.Itoa(int(port)))
	start := time.Now()
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		klog.InfoS("PortForward dial failed", "conn", n, "sandbox", podSandboxID, "addr", addr, "err", err)
		return fmt.Errorf("fakecri: dial %s: %w", addr, err)
	}
	defer conn.Close()
	klog.V(1).InfoS("PortForward connection open", "conn", n, "sandbox", podSandboxID, "addr", addr)

	type result struct {
		dir string
		n   int64
		err error
	}
	results := make(chan result, 2)
	go func() {
		n, err := io.Copy(stream, conn)
		results <- result{"to-client", n, err}
	}()
	go func() {
		n, err := io.Copy(conn, stream)
		// The client finished sending: pass the half-close on to the target.
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		results <- result{"to-target", n, err}
	}()
	var first result
	select {
	case first = <-results:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Give the other direction a moment to drain (as containerd does).
	var second result
	select {
	case second = <-results:
	case <-time.After(time.Second):
		second = result{dir: "timeout"}
	}
	klog.V(1).InfoS("PortForward connection closed", "conn", n, "sandbox", podSandboxID, "addr", addr,
		"duration", time.Since(start).Round(time.Millisecond).String(),
		first.dir, first.n, second.dir, second.n, "err", errors.Join(first.err, second.err))
	if first.err != nil && !isClosedErr(first.err) {
		return first.err
	}
	return nil
}

func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || strings.Contains(err.Error(), "stream reset") ||
		strings.Contains(err.Error(), "closed")
}

// Calls the kubelet makes every second or so are logged at -v=6, others at -v=4.
var pollingCalls = map[string]bool{
	"ListPodSandbox": true, "ListContainers": true, "ContainerStatus": true, "PodSandboxStatus": true,
	"Status": true, "Version": true, "ImageFsInfo": true, "ListImages": true, "ImageStatus": true,
	"ListContainerStats": true, "ListPodSandboxStats": true, "ListMetricDescriptors": true,
	"ListPodSandboxMetrics": true, "ContainerStats": true, "PodSandboxStats": true,
}

func logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	level := klog.Level(4)
	if pollingCalls[method] {
		level = 6
	}
	if err != nil {
		code := status.Code(err)
		if code == codes.NotFound {
			klog.V(2).InfoS("CRI call", "method", method, "code", code.String(), "err", err)
		} else {
			klog.InfoS("CRI call failed", "method", method, "code", code.String(), "err", err)
		}
	} else if klog.V(level).Enabled() {
		klog.V(level).InfoS("CRI call", "method", method, "duration", time.Since(start).String())
	}
	return resp, err
}

func logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	klog.V(4).InfoS("CRI stream", "method", method)
	err := handler(srv, ss)
	if err != nil {
		klog.InfoS("CRI stream failed", "method", method, "err", err)
	}
	return err
}
