// Command cricheck is a smoke test for fakecri: it calls the CRI methods the
// kubelet depends on over the unix socket, runs a hostNetwork sandbox with one
// container, and pushes bytes through PortForward (SPDY, as the kubelet's proxy
// does) to a TCP echo server it starts on 127.0.0.1. Exit status 0 means all
// checks passed.
//
//	go run ./cmd/cricheck --endpoint unix:///tmp/x/cri.sock
//
// With --portforward-url it instead port-forwards through a kubelet (or any
// SPDY port-forward URL, TLS unverified) to --port and sends one HTTP GET:
//
//	go run ./cmd/cricheck --portforward-url https://127.0.0.1:10250/portForward/NS/POD --port 8080 [--token T]
//
// --websocket speaks the v4.channel.k8s.io WebSocket protocol instead of SPDY
// (what a WebSocket client sends through the apiserver's pods/portforward).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	kubeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

var failed int

func check(name string, err error, detail ...any) {
	if err != nil {
		failed++
		fmt.Printf("FAIL %s: %v\n", name, err)
		return
	}
	fmt.Printf("ok   %s %s\n", name, strings.TrimSpace(fmt.Sprintln(detail...)))
}

var hex64 = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkImages checks the preloaded images look like containerd's: sha256 ids,
// tags, repo@sha256 digests, sizes; at least 50 of them (nodeStatusMaxImages);
// the sandbox image pinned.
func checkImages(images []*kubeapi.Image) error {
	if len(images) < 50 {
		return fmt.Errorf("%d images, want at least 50 (the kubelet publishes up to 50)", len(images))
	}
	pinned := false
	for _, img := range images {
		if !hex64.MatchString(img.GetId()) || len(img.GetRepoTags()) == 0 || len(img.GetRepoDigests()) == 0 || img.GetSize() == 0 {
			return fmt.Errorf("not containerd-shaped: %v", img)
		}
		for _, d := range img.GetRepoDigests() {
			if _, h, ok := strings.Cut(d, "@"); !ok || !hex64.MatchString(h) {
				return fmt.Errorf("bad repo digest %q", d)
			}
		}
		if strings.HasPrefix(img.GetRepoTags()[0], "registry.k8s.io/pause:") {
			pinned = img.GetPinned()
		}
	}
	if !pinned {
		return errors.New("no pinned registry.k8s.io/pause image")
	}
	return nil
}

func main() {
	endpoint := flag.String("endpoint", "", "CRI endpoint, unix:///path/to/cri.sock")
	pfURL := flag.String("portforward-url", "", "port-forward URL to test instead of the CRI checks")
	pfPort := flag.Int("port", 0, "remote port for --portforward-url")
	token := flag.String("token", "", "bearer token for --portforward-url")
	path := flag.String("path", "/", "HTTP path to GET through --portforward-url")
	ws := flag.Bool("websocket", false, "use the v4.channel.k8s.io WebSocket protocol for --portforward-url")
	flag.Parse()
	if *pfURL != "" {
		do := forwardHTTP
		if *ws {
			do = websocketHTTP
		}
		if err := do(*pfURL, *pfPort, *token, *path); err != nil {
			fmt.Println("FAIL port-forward:", err)
			os.Exit(1)
		}
		return
	}
	sock := strings.TrimPrefix(*endpoint, "unix://")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println("FAIL dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	rt := kubeapi.NewRuntimeServiceClient(conn)
	im := kubeapi.NewImageServiceClient(conn)

	v, err := rt.Version(ctx, &kubeapi.VersionRequest{Version: "0.1.0"})
	if err == nil && v.Version != "0.1.0" {
		err = fmt.Errorf("Version %q, the kubelet wants 0.1.0", v.Version)
	}
	check("Version", err, v.GetRuntimeName(), v.GetRuntimeVersion(), v.GetRuntimeApiVersion())

	st, err := rt.Status(ctx, &kubeapi.StatusRequest{})
	if err == nil {
		for _, c := range st.GetStatus().GetConditions() {
			if !c.Status {
				err = fmt.Errorf("condition %s is false", c.Type)
			}
		}
		if len(st.GetStatus().GetConditions()) != 2 {
			err = fmt.Errorf("want RuntimeReady and NetworkReady, got %v", st.GetStatus().GetConditions())
		}
	}
	check("Status", err, st.GetStatus().GetConditions())

	rc, err := rt.RuntimeConfig(ctx, &kubeapi.RuntimeConfigRequest{})
	if err == nil && rc.GetLinux() == nil {
		err = fmt.Errorf("no linux runtime config")
	}
	check("RuntimeConfig", err, rc.GetLinux().GetCgroupDriver())

	fs, err := im.ImageFsInfo(ctx, &kubeapi.ImageFsInfoRequest{})
	if err == nil && (len(fs.GetImageFilesystems()) == 0 || len(fs.GetContainerFilesystems()) == 0 ||
		fs.GetImageFilesystems()[0].GetUsedBytes() == nil) {
		err = fmt.Errorf("incomplete: %v", fs)
	}
	check("ImageFsInfo", err, fs.GetImageFilesystems()[0].GetFsId().GetMountpoint())

	md, err := rt.ListMetricDescriptors(ctx, &kubeapi.ListMetricDescriptorsRequest{})
	check("ListMetricDescriptors", err, len(md.GetDescriptors()))
	pm, err := rt.ListPodSandboxMetrics(ctx, &kubeapi.ListPodSandboxMetricsRequest{})
	check("ListPodSandboxMetrics", err, len(pm.GetPodMetrics()))
	cs, err := rt.ListContainerStats(ctx, &kubeapi.ListContainerStatsRequest{Filter: &kubeapi.ContainerStatsFilter{}})
	check("ListContainerStats", err, len(cs.GetStats()))
	ps, err := rt.ListPodSandboxStats(ctx, &kubeapi.ListPodSandboxStatsRequest{Filter: &kubeapi.PodSandboxStatsFilter{}})
	check("ListPodSandboxStats", err, len(ps.GetStats()))
	_, err = rt.UpdateRuntimeConfig(ctx, &kubeapi.UpdateRuntimeConfigRequest{RuntimeConfig: &kubeapi.RuntimeConfig{
		NetworkConfig: &kubeapi.NetworkConfig{PodCidr: "10.244.0.0/24"}}})
	check("UpdateRuntimeConfig", err)

	// The image service: preloaded like a production node's containerd.
	imgs, err := im.ListImages(ctx, &kubeapi.ListImagesRequest{})
	if err == nil {
		err = checkImages(imgs.GetImages())
	}
	check("ListImages (preloaded, containerd-shaped)", err, len(imgs.GetImages()), "images")
	is, err := im.ImageStatus(ctx, &kubeapi.ImageStatusRequest{Image: &kubeapi.ImageSpec{Image: "registry.k8s.io/kube-scheduler:v1.36.3"}})
	if err == nil && is.GetImage() == nil {
		err = errors.New("the preloaded kube-scheduler image is absent")
	}
	check("ImageStatus (preloaded, by tag)", err, is.GetImage().GetId())
	if len(is.GetImage().GetRepoDigests()) > 0 {
		byDigest, err := im.ImageStatus(ctx, &kubeapi.ImageStatusRequest{Image: &kubeapi.ImageSpec{Image: is.GetImage().GetRepoDigests()[0]}})
		if err == nil && byDigest.GetImage().GetId() != is.GetImage().GetId() {
			err = fmt.Errorf("by digest: %v", byDigest.GetImage())
		}
		check("ImageStatus (by digest)", err)
	}
	short, err := im.ImageStatus(ctx, &kubeapi.ImageStatusRequest{Image: &kubeapi.ImageSpec{Image: "busybox:1.37.0"}})
	if err == nil && short.GetImage() == nil {
		err = errors.New("busybox:1.37.0 not found as docker.io/library/busybox:1.37.0")
	}
	check("ImageStatus (short Docker Hub name)", err, short.GetImage().GetRepoTags())

	image := &kubeapi.ImageSpec{Image: "registry.k8s.io/e2e-test-images/agnhost:2.56"}
	is, err = im.ImageStatus(ctx, &kubeapi.ImageStatusRequest{Image: image})
	check("ImageStatus (absent)", err, is.GetImage() == nil)
	pull, err := im.PullImage(ctx, &kubeapi.PullImageRequest{Image: image})
	if err == nil && !strings.HasPrefix(pull.GetImageRef(), "sha256:") {
		err = fmt.Errorf("image ref %q is not an image id", pull.GetImageRef())
	}
	check("PullImage", err, pull.GetImageRef())
	is, err = im.ImageStatus(ctx, &kubeapi.ImageStatusRequest{Image: image})
	if err == nil && is.GetImage().GetId() != pull.GetImageRef() {
		err = fmt.Errorf("after the pull: %v", is.GetImage())
	}
	check("ImageStatus (pulled)", err, is.GetImage().GetSize(), "bytes")
	pulled := is.GetImage()
	// The kubelet creates containers from the image id that PullImage returned.
	image = &kubeapi.ImageSpec{Image: pull.GetImageRef(), UserSpecifiedImage: image.Image}

	logDir, _ := os.MkdirTemp("", "cricheck-logs")
	defer os.RemoveAll(logDir)
	sbCfg := &kubeapi.PodSandboxConfig{
		Metadata:     &kubeapi.PodSandboxMetadata{Name: "kube-scheduler-node", Namespace: "kube-system", Uid: "uid-1"},
		LogDirectory: logDir,
		Labels:       map[string]string{"component": "kube-scheduler"},
		Linux: &kubeapi.LinuxPodSandboxConfig{SecurityContext: &kubeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &kubeapi.NamespaceOption{Network: kubeapi.NamespaceMode_NODE}}},
	}
	sb, err := rt.RunPodSandbox(ctx, &kubeapi.RunPodSandboxRequest{Config: sbCfg})
	check("RunPodSandbox", err, sb.GetPodSandboxId())
	ctr, err := rt.CreateContainer(ctx, &kubeapi.CreateContainerRequest{
		PodSandboxId:  sb.GetPodSandboxId(),
		SandboxConfig: sbCfg,
		Config: &kubeapi.ContainerConfig{
			Metadata: &kubeapi.ContainerMetadata{Name: "kube-scheduler"},
			Image:    image,
			LogPath:  "kube-scheduler/0.log",
		},
	})
	check("CreateContainer", err, ctr.GetContainerId())
	_, err = rt.StartContainer(ctx, &kubeapi.StartContainerRequest{ContainerId: ctr.GetContainerId()})
	check("StartContainer", err)
	cst, err := rt.ContainerStatus(ctx, &kubeapi.ContainerStatusRequest{ContainerId: ctr.GetContainerId()})
	if err == nil && cst.GetStatus().GetState() != kubeapi.ContainerState_CONTAINER_RUNNING {
		err = fmt.Errorf("state %v", cst.GetStatus().GetState())
	}
	check("ContainerStatus", err, cst.GetStatus().GetState(), cst.GetStatus().GetLogPath())
	if st := cst.GetStatus(); err == nil && (st.GetImage().GetImage() != pulled.GetRepoTags()[0] ||
		st.GetImageRef() != pulled.GetRepoDigests()[0] || st.GetImageId() != pulled.GetId()) {
		err = fmt.Errorf("image %q, imageRef %q, imageId %q; want the tag, the repo digest and the id of %v",
			st.GetImage().GetImage(), st.GetImageRef(), st.GetImageId(), pulled)
	}
	check("ContainerStatus image names (tag, repo digest, id)", err, cst.GetStatus().GetImageRef())
	logData, err := os.ReadFile(cst.GetStatus().GetLogPath())
	check("container log file", err, strings.TrimSpace(string(logData)))
	_, err = rt.ContainerStatus(ctx, &kubeapi.ContainerStatusRequest{ContainerId: "nope"})
	if err == nil {
		check("ContainerStatus (unknown) is an error", fmt.Errorf("no error"))
	} else {
		check("ContainerStatus (unknown) is an error", nil, err)
	}
	_, err = rt.ContainerStats(ctx, &kubeapi.ContainerStatsRequest{ContainerId: ctr.GetContainerId()})
	check("ContainerStats", err)
	_, err = rt.PodSandboxStats(ctx, &kubeapi.PodSandboxStatsRequest{PodSandboxId: sb.GetPodSandboxId()})
	check("PodSandboxStats", err)
	list, err := rt.ListPodSandbox(ctx, &kubeapi.ListPodSandboxRequest{})
	check("ListPodSandbox", err, len(list.GetItems()))

	_, err = im.RemoveImage(ctx, &kubeapi.RemoveImageRequest{Image: &kubeapi.ImageSpec{Image: pulled.GetRepoTags()[0]}})
	if err == nil {
		if gone, e := im.ImageStatus(ctx, &kubeapi.ImageStatusRequest{Image: &kubeapi.ImageSpec{Image: pulled.GetId()}}); e != nil || gone.GetImage() != nil {
			err = fmt.Errorf("still there after RemoveImage: %v %v", gone.GetImage(), e)
		}
	}
	if err == nil {
		_, err = im.RemoveImage(ctx, &kubeapi.RemoveImageRequest{Image: &kubeapi.ImageSpec{Image: pulled.GetId()}})
	}
	check("RemoveImage (twice: idempotent)", err)

	// PortForward through the streaming server to a local echo server.
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		check("echo listen", err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	port := echo.Addr().(*net.TCPAddr).Port
	pf, err := rt.PortForward(ctx, &kubeapi.PortForwardRequest{PodSandboxId: sb.GetPodSandboxId(), Port: []int32{int32(port)}})
	check("PortForward URL", err, pf.GetUrl())
	if err == nil {
		err = forwardEcho(pf.GetUrl(), port)
		check("PortForward data round trip (SPDY)", err, "via", pf.GetUrl())
	}
	_, err = rt.Exec(ctx, &kubeapi.ExecRequest{ContainerId: ctr.GetContainerId(), Cmd: []string{"true"}, Stdout: true})
	check("Exec URL", err)

	_, err = rt.StopPodSandbox(ctx, &kubeapi.StopPodSandboxRequest{PodSandboxId: sb.GetPodSandboxId()})
	check("StopPodSandbox", err)
	_, err = rt.StopPodSandbox(ctx, &kubeapi.StopPodSandboxRequest{PodSandboxId: "gone"})
	check("StopPodSandbox (unknown) is a no-op", err)
	_, err = rt.RemovePodSandbox(ctx, &kubeapi.RemovePodSandboxRequest{PodSandboxId: sb.GetPodSandboxId()})
	check("RemovePodSandbox", err)
	cl, err := rt.ListContainers(ctx, &kubeapi.ListContainersRequest{})
	if err == nil && len(cl.GetContainers()) != 0 {
		err = fmt.Errorf("%d containers left", len(cl.GetContainers()))
	}
	check("ListContainers after RemovePodSandbox", err)

	if failed > 0 {
		fmt.Printf("cricheck: %d checks failed\n", failed)
		os.Exit(1)
	}
	fmt.Println("cricheck: all checks passed")
}

func startForward(rawURL string, port int, cfg *rest.Config, stop chan struct{}) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	tr, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return 0, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: tr}, http.MethodPost, u)
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)},
		stop, ready, io.Discard, os.Stderr)
	if err != nil {
		return 0, err
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		return 0, fmt.Errorf("forward: %w", err)
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("forward: not ready after 10s")
	}
	ports, err := fw.GetPorts()
	if err != nil {
		return 0, err
	}
	return int(ports[0].Local), nil
}

func forwardHTTP(rawURL string, port int, token, path string) error {
	stop := make(chan struct{})
	defer close(stop)
	local, err := startForward(rawURL, port, &rest.Config{BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}}, stop)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d%s", local, path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	fmt.Printf("ok   GET %s through %s -> %s %q\n", path, rawURL, resp.Status, strings.TrimSpace(string(body)))
	return nil
}

func forwardEcho(rawURL string, port int) error {
	stop := make(chan struct{})
	defer close(stop)
	local, err := startForward(rawURL, port, &rest.Config{}, stop)
	if err != nil {
		return err
	}
	ports := []struct{ Local int }{{local}}
	for i := 0; i < 2; i++ { // two connections over one forwarding session
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local), 5*time.Second)
		if err != nil {
			return err
		}
		msg := []byte(fmt.Sprintf("hello through fakecri %d\n", i))
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(msg); err != nil {
			c.Close()
			return err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			c.Close()
			return fmt.Errorf("read echo: %w", err)
		}
		c.Close()
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("echo mismatch: %q", got)
		}
	}
	return nil
}

// websocketHTTP sends one HTTP/1.0 GET over a v4.channel.k8s.io port-forward:
// channel 0 carries data, channel 1 errors; the first frame on each channel
// is the port, 2 bytes little-endian.
func websocketHTTP(rawURL string, port int, token, path string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	}
	// The apiserver's pods/portforward takes ?ports=; it calls the kubelet
	// with ?port=. Send whichever this URL's server reads.
	q := u.Query()
	if strings.Contains(u.Path, "/api/") {
		q.Set("ports", fmt.Sprint(port))
	} else {
		q.Set("port", fmt.Sprint(port))
	}
	u.RawQuery = q.Encode()
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{InsecureSkipVerify: true},
		Subprotocols:     []string{"v4.channel.k8s.io"},
		HandshakeTimeout: 10 * time.Second,
	}
	hdr := http.Header{}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	c, resp, err := d.Dial(u.String(), hdr)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			return fmt.Errorf("dial %s: %w (%s %q)", u, err, resp.Status, body)
		}
		return fmt.Errorf("dial %s: %w", u, err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	req := fmt.Sprintf("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path)
	if err := c.WriteMessage(websocket.BinaryMessage, append([]byte{0}, req...)); err != nil {
		return err
	}
	seenPort := map[byte]bool{}
	var data, errText bytes.Buffer
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) || errors.Is(err, io.EOF) ||
				strings.Contains(err.Error(), "close") {
				break
			}
			return fmt.Errorf("read: %w (data so far %q)", err, data.String())
		}
		if len(msg) == 0 {
			continue
		}
		ch, payload := msg[0], msg[1:]
		if !seenPort[ch] {
			seenPort[ch] = true
			if len(payload) != 2 || int(binary.LittleEndian.Uint16(payload)) != port {
				return fmt.Errorf("channel %d: first frame %v is not port %d", ch, payload, port)
			}
			continue
		}
		switch ch {
		case 0:
			data.Write(payload)
		case 1:
			errText.Write(payload)
		}
	}
	if errText.Len() > 0 {
		return fmt.Errorf("error channel: %s", errText.String())
	}
	first, _, _ := strings.Cut(data.String(), "\r\n")
	if !strings.HasPrefix(first, "HTTP/") {
		return fmt.Errorf("no HTTP response, got %q", data.String())
	}
	_, body, _ := strings.Cut(data.String(), "\r\n\r\n")
	fmt.Printf("ok   GET %s through %s (websocket v4.channel.k8s.io) -> %s %q\n", path, u.Redacted(), first, strings.TrimSpace(body))
	return nil
}
