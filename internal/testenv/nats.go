package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// NATS is a nats-server with JetStream that a test started.
type NATS struct {
	// URL is nats://127.0.0.1:PORT (the scheme is the caller's to change
	// for TLS).
	URL  string
	Port int
	// Dir holds the server's configuration and JetStream storage.
	Dir string

	bin, conf string
	cmd       *exec.Cmd
	log       *SyncBuffer
	t         testing.TB
}

// NATSServer starts nats-server with JetStream on a free loopback port,
// storing in a fresh temporary directory, and stops it when the test
// ends. config, when not empty, is the server's configuration file's
// text (TLS, authorization); the port and storage are set on the command
// line. It skips the test (fails it under CI) when nats-server is not
// installed (Debian: apt-get install nats-server).
func NATSServer(t testing.TB, config string) *NATS {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nats-server"); serr != nil {
			unavailable(t, "needs nats-server (Debian package nats-server): %v", err)
			return nil
		}
		bin = "/usr/sbin/nats-server"
	}
	s := &NATS{Dir: t.TempDir(), bin: bin, t: t}
	if config != "" {
		s.conf = filepath.Join(s.Dir, "nats.conf")
		if err := os.WriteFile(s.conf, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.Stop)
	// The free port may be taken by another process before the server
	// binds it: try a few.
	for range 3 {
		s.Port = freePort(t)
		s.URL = "nats://127.0.0.1:" + strconv.Itoa(s.Port)
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatal(err)
	return nil
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start starts the server (again, after Stop: same port and storage) and
// waits until it accepts connections.
func (s *NATS) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *NATS) start() error {
	args := []string{"-js", "-sd", filepath.Join(s.Dir, "js"), "-a", "127.0.0.1", "-p", strconv.Itoa(s.Port)}
	if s.conf != "" {
		args = append([]string{"-c", s.conf}, args...)
	}
	s.log = &SyncBuffer{}
	// #nosec G204 -- nats-server found on PATH; arguments built here
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting nats-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))
		if err == nil {
			_ = c.Close()
			go func() { <-exited }()
			return nil
		}
		select {
		case err := <-exited:
			s.cmd = nil
			return fmt.Errorf("nats-server exited: %v\n%s", err, s.log.String())
		case <-ctx.Done():
			_ = s.cmd.Process.Kill()
			<-exited
			s.cmd = nil
			return fmt.Errorf("nats-server did not listen on port %d in 20s:\n%s", s.Port, s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop stops the server, keeping its storage.
func (s *NATS) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	for range 100 { // the Wait goroutine reaps it; wait for the port to free
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), 100*time.Millisecond)
		if err != nil {
			break
		}
		_ = c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd = nil
}

// Log returns what the server printed.
func (s *NATS) Log() string {
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// String is the server's URL.
func (s *NATS) String() string { return fmt.Sprintf("nats-server at %s", s.URL) }
