package examples

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardsec/ward/internal/cli"
	"github.com/wardsec/ward/proxy"
)

// TestProxyExample: the proxy example's configuration and policies load
// with certificates from `ward cert`, as its README says.
func TestProxyExample(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"proxy.yaml", "policies.yaml"} {
		data, err := os.ReadFile(filepath.Join("proxy", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), []string{"cert", "--trust-domain", "example.org", "--out", filepath.Join(dir, "certs"),
		"--id", "spiffe://example.org/ns/shop/sa/api", "--id", "spiffe://example.org/ns/shop/sa/web"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("ward cert: exit %d: %s", code, &errb)
	}
	srv, err := proxy.NewServer(filepath.Join(dir, "proxy.yaml"), slog.New(slog.DiscardHandler), &out)
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	defer srv.Close()
	if got := srv.Config().Workload.Namespace; got != "shop" {
		t.Errorf("workload namespace %q", got)
	}
}
