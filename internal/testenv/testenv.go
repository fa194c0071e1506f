package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireRoot skips t (fails it under CI) unless the process runs with
// effective user id 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	if uid := os.Geteuid(); uid != 0 {
		unavailable(t, "needs root, running as uid %d (try: go test -exec sudo ./...)", uid)
	}
}

// RequireNetns skips t (fails it under CI) unless the process runs as root
// and can create network namespaces with `ip netns`. It checks this by
// adding and deleting a probe namespace once per test binary.
func RequireNetns(t testing.TB) {
	t.Helper()
	if uid := os.Geteuid(); uid != 0 {
		unavailable(t, "needs root to create network namespaces, running as uid %d (try: go test -exec sudo ./...)", uid)
		return
	}
	if err := netnsProbe(); err != nil {
		unavailable(t, "needs network namespaces: %v", err)
	}
}

// RequireCommand skips t (fails it under CI) unless the executable name is
// found in PATH.
func RequireCommand(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		unavailable(t, "needs the %q command: %v", name, err)
	}
}

// RequireDocker skips t (fails it under CI) unless a Docker Engine answers
// at $DOCKER_HOST (a unix:// or tcp:// address without TLS), else at
// unix:///var/run/docker.sock: the socket must exist and GET /_ping must
// return OK.
func RequireDocker(t testing.TB) {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	if err := dockerPing(host); err != nil {
		unavailable(t, "needs a Docker Engine at %s: %v", host, err)
	}
}

// dockerPing asks the daemon at host for /_ping.
func dockerPing(host string) error {
	u, err := url.Parse(host)
	if err != nil {
		return err
	}
	var network, addr string
	switch u.Scheme {
	case "unix":
		network, addr = "unix", u.Path
		if _, err := os.Stat(addr); err != nil { // #nosec G703 -- the daemon's socket, from DOCKER_HOST or the default, in a test helper
			return err
		}
	case "tcp":
		network, addr = "tcp", u.Host
	default:
		return fmt.Errorf("unsupported DOCKER_HOST scheme %q (want unix or tcp)", u.Scheme)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 512))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "OK" {
		return fmt.Errorf("GET /_ping: %s %q", resp.Status, body)
	}
	return nil
}

// unavailable skips t, or fails it when running under CI.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: %s; CI=true, so this test must run, not skip", msg)
		return
	}
	t.Skipf("testenv: skipping: %s", msg)
}

// netnsProbe adds and deletes a network namespace once, reporting why
// that is impossible here (not Linux, no iproute2, no CAP_SYS_ADMIN in a
// container, ...).
var netnsProbe = sync.OnceValue(func() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("network namespaces need Linux, not %s", runtime.GOOS)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return fmt.Errorf("the ip command (iproute2) is missing: %w", err)
	}
	name := fmt.Sprintf("ward-testenv-probe-%d", os.Getpid())
	// #nosec G204 -- ip comes from LookPath and name is built here, not from input
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	// #nosec G204 -- same fixed ip binary and probe name as the add above
	if out, err := exec.Command(ip, "netns", "delete", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns delete %s (the probe namespace is left behind): %w: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
})
