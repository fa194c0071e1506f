package proxy

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// fakeWorkloadAPI serves one SVID over the SPIFFE Workload API, as a
// SPIRE agent would, and keeps the stream open.
type fakeWorkloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	resp *workload.X509SVIDResponse
}

func (f *fakeWorkloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	if err := stream.Send(f.resp); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func serveWorkloadAPI(t *testing.T, svid *x509svid.SVID, bundle []*x509.Certificate) string {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(svid.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var chain, roots []byte
	for _, c := range svid.Certificates {
		chain = append(chain, c.Raw...)
	}
	for _, c := range bundle {
		roots = append(roots, c.Raw...)
	}
	// A short path: unix socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "wapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, &fakeWorkloadAPI{resp: &workload.X509SVIDResponse{
		Svids: []*workload.X509SVID{{SpiffeId: svid.ID.String(), X509Svid: chain, X509SvidKey: key, Bundle: roots}},
	}})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return "unix://" + sock
}

// TestProxyWorkloadAPI: the proxy gets its SVID and bundle from the SPIFFE
// Workload API (a fake SPIRE agent) and serves mutual TLS with them.
func TestProxyWorkloadAPI(t *testing.T) {
	h := start(t)
	addr := serveWorkloadAPI(t, h.svids["api"], h.bundle.Bundle().X509Authorities())
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	base, _ := os.ReadFile(cfgPath)
	cfg := strings.Replace(string(base), "    svid: api.pem\n    key: api-key.pem\n    bundle: bundle.pem\n", fmt.Sprintf("    socket: %q\n", addr), 1)
	if cfg == string(base) {
		t.Fatal("the test's configuration changed: no svid files to replace")
	}
	writeFile(t, cfgPath, []byte(cfg))
	start := time.Now()
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	t.Logf("first SVID from the Workload API in %v", time.Since(start))
	if code, body := h.get(t, "web", "/api/items", "X-Client", "w1"); code != 200 {
		t.Errorf("through the Workload API's SVID: %d %s", code, body)
	}
	// A socket where nothing answers refuses the configuration.
	defer func(d time.Duration) { workloadAPITimeout = d }(workloadAPITimeout)
	workloadAPITimeout = 500 * time.Millisecond
	writeFile(t, cfgPath, []byte(strings.Replace(cfg, addr, "unix:///nonexistent/agent.sock", 1)))
	if err := h.srv.Reload(); err == nil || !strings.Contains(err.Error(), "workload API") {
		t.Errorf("dead socket: %v", err)
	}
}
