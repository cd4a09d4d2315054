package main

// Real container logs for containers whose process runs on the host.
//
// In kvlog's e2e cluster the static pods' and kube-proxy's processes are started by up.sh,
// not by fakecri, and write their klog output to a host file. --container-log NAME=PATH
// makes fakecri the runtime of that output, as containerd is for a real container's:
// from StartContainer of a container named NAME it follows PATH and writes each line to the
// container's CRI log file (ContainerStatus.LogPath) in the CRI format the kubelet reads,
// `<RFC3339Nano time> stderr F <line>` (klog writes to stderr; the time is when fakecri read
// the line, as containerd stamps a line when it reads it from the pipe; lines over 16 KiB are
// split into `P` parts and a final `F`, as containerd's default max_container_log_line_size).
// It stops on StopContainer (and when the sandbox is stopped or removed), and
// ReopenContainerLog reopens the CRI log file after the kubelet has rotated it. The first
// container of a NAME starts at the beginning of PATH (the process's whole log, as a real
// container's log starts with its process); a later one (a restart) at its current end.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kubeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
)

const (
	// containerd's default max_container_log_line_size.
	maxCRILogLine = 16 * 1024
	tailInterval  = 100 * time.Millisecond
)

// containerLogs is the --container-log flag: container name -> host log file.
type containerLogs map[string]string

func (c containerLogs) String() string {
	var parts []string
	for k, v := range c {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (c containerLogs) Set(s string) error {
	name, path, ok := strings.Cut(s, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want NAME=PATH, not %q", s)
	}
	c[name] = path
	return nil
}

type logTailer struct {
	id, name, hostPath, criPath string

	mu  sync.Mutex // guards out (ReopenContainerLog swaps it)
	out *os.File

	cancel context.CancelFunc
	done   chan struct{}
}

type logTailers struct {
	sources containerLogs

	mu      sync.Mutex
	running map[string]*logTailer // by container id
	seen    map[string]bool       // container names tailed before (a restart starts at the end)
}

func newLogTailers(sources containerLogs) *logTailers {
	return &logTailers{sources: sources, running: map[string]*logTailer{}, seen: map[string]bool{}}
}

func (t *logTailers) mapped(name string) bool { _, ok := t.sources[name]; return ok }

// start follows the host log of container NAME into criPath (no-op when NAME is not mapped).
func (t *logTailers) start(id, name, criPath string) {
	hostPath, ok := t.sources[name]
	if !ok || criPath == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.running[id]; ok {
		return
	}
	in, err := os.Open(hostPath)
	if err != nil {
		klog.InfoS("container log: cannot open the host log", "container", name, "id", id, "path", hostPath, "err", err)
		return
	}
	if t.seen[name] {
		if _, err := in.Seek(0, io.SeekEnd); err != nil {
			klog.InfoS("container log: seek", "path", hostPath, "err", err)
		}
	}
	t.seen[name] = true
	out, err := os.OpenFile(criPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		_ = in.Close()
		klog.InfoS("container log: cannot open the CRI log", "container", name, "path", criPath, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	lt := &logTailer{id: id, name: name, hostPath: hostPath, criPath: criPath, out: out, cancel: cancel, done: make(chan struct{})}
	t.running[id] = lt
	go lt.run(ctx, in)
	klog.InfoS("container log: following the host log", "container", name, "id", id, "from", hostPath, "to", criPath)
}

// stop ends the tailer of container id (if any) after copying what the host log has now.
func (t *logTailers) stop(id string) {
	t.mu.Lock()
	lt, ok := t.running[id]
	delete(t.running, id)
	t.mu.Unlock()
	if !ok {
		return
	}
	lt.cancel()
	<-lt.done
	klog.InfoS("container log: stopped", "container", lt.name, "id", id)
}

// reopen closes and reopens container id's CRI log file (after the kubelet renamed it).
func (t *logTailers) reopen(id string) (bool, error) {
	t.mu.Lock()
	lt, ok := t.running[id]
	t.mu.Unlock()
	if !ok {
		return false, nil
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	out, err := os.OpenFile(lt.criPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return true, err
	}
	_ = lt.out.Close()
	lt.out = out
	klog.V(1).InfoS("container log: reopened", "container", lt.name, "id", id, "path", lt.criPath)
	return true, nil
}

func (lt *logTailer) run(ctx context.Context, in *os.File) {
	defer close(lt.done)
	defer in.Close()
	var pending []byte
	buf := make([]byte, 64*1024)
	var offset int64
	if off, err := in.Seek(0, io.SeekCurrent); err == nil {
		offset = off
	}
	drain := func() {
		for {
			// A host log cut shorter than where we are (truncated): start again from 0.
			if st, err := in.Stat(); err == nil && st.Size() < offset {
				if _, err := in.Seek(0, io.SeekStart); err == nil {
					offset, pending = 0, nil
				}
			}
			n, err := in.Read(buf)
			if n > 0 {
				offset += int64(n)
				pending = append(pending, buf[:n]...)
				for {
					i := bytes.IndexByte(pending, '\n')
					if i < 0 {
						break
					}
					lt.write(pending[:i])
					pending = pending[i+1:]
				}
				// A line longer than the limit is written in parts even before its end comes.
				for len(pending) >= maxCRILogLine {
					lt.writePart(pending[:maxCRILogLine])
					pending = pending[maxCRILogLine:]
				}
				pending = append([]byte(nil), pending...)
			}
			if n == 0 || err != nil {
				return
			}
		}
	}
	tick := time.NewTicker(tailInterval)
	defer tick.Stop()
	for {
		drain()
		select {
		case <-ctx.Done():
			drain()
			if len(pending) > 0 {
				lt.write(pending)
			}
			lt.mu.Lock()
			_ = lt.out.Close()
			lt.mu.Unlock()
			return
		case <-tick.C:
		}
	}
}

// write writes one whole line (without its newline) in CRI format.
func (lt *logTailer) write(line []byte) {
	for len(line) > maxCRILogLine {
		lt.writePart(line[:maxCRILogLine])
		line = line[maxCRILogLine:]
	}
	lt.writeTagged("F", line)
}

func (lt *logTailer) writePart(part []byte) { lt.writeTagged("P", part) }

func (lt *logTailer) writeTagged(tag string, content []byte) {
	rec := make([]byte, 0, len(content)+48)
	rec = time.Now().UTC().AppendFormat(rec, time.RFC3339Nano)
	rec = append(rec, " stderr "...)
	rec = append(rec, tag...)
	rec = append(rec, ' ')
	rec = append(rec, content...)
	rec = append(rec, '\n')
	lt.mu.Lock()
	_, err := lt.out.Write(rec)
	lt.mu.Unlock()
	if err != nil {
		klog.V(2).InfoS("container log: write", "container", lt.name, "path", lt.criPath, "err", err)
	}
}

// ReopenContainerLog: as containerd, an error for a container that is not running; the
// container's CRI log file is reopened (the kubelet renamed it to rotate it).
func (f *fakeCRI) ReopenContainerLog(ctx context.Context, req *kubeapi.ReopenContainerLogRequest) (*kubeapi.ReopenContainerLogResponse, error) {
	id := req.GetContainerId()
	c, ok := f.container(id)
	if !ok {
		return nil, notFound("container %q not found", id)
	}
	f.RuntimeService.Lock()
	state := c.State
	f.RuntimeService.Unlock()
	if state != kubeapi.ContainerState_CONTAINER_RUNNING {
		return nil, status.Errorf(codes.FailedPrecondition, "container is not running")
	}
	if _, err := f.logs.reopen(id); err != nil {
		return nil, status.Errorf(codes.Internal, "failed to reopen container log %q: %v", id, err)
	}
	return &kubeapi.ReopenContainerLogResponse{}, nil
}
