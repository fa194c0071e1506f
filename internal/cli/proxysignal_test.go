package cli

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestProxySIGHUPAtStart: `ward proxy` caught SIGHUP only once it was
// serving; one that came during its start (which waits up to 10 s for a
// Workload API's first SVID), from a configuration reloader say, ended
// the process (SIGHUP's default action). It is now caught from the
// start, and the reload it asks for is made once serving.
func TestProxySIGHUPAtStart(t *testing.T) {
	if cfg := os.Getenv("WARD_TEST_PROXY_CHILD"); cfg != "" {
		os.Exit(Run(context.Background(), []string{"proxy", "--config", cfg}, nil, io.Discard, io.Discard))
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	connected := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connected <- c // a Workload API that never answers
		}
	}()
	cfg := filepath.Join(dir, "proxy.yaml")
	if err := os.WriteFile(cfg, []byte("listen: 127.0.0.1:0\nadmin: \"off\"\ntls:\n  spiffe:\n    socket: unix://"+sock+"\n    allow: [\"spiffe://example.org/**\"]\nupstream: {url: \"http://127.0.0.1:1\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProxySIGHUPAtStart$") // #nosec G204 -- the test binary itself
	cmd.Env = append(os.Environ(), "WARD_TEST_PROXY_CHILD="+cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(waited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-waited
	}()
	select {
	case c := <-connected: // the child waits for its SVID
		defer c.Close()
	case err := <-exited:
		t.Fatalf("the child ended before asking the Workload API: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the child never asked the Workload API")
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Fatalf("ward proxy was killed by %v during its start", ws.Signal())
			}
		}
		t.Fatalf("ward proxy ended after a SIGHUP during its start: %v", err)
	case <-time.After(time.Second):
	}
}
