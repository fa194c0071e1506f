package firewall_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardsec/ward/firewall"
)

// fakeProcSys writes the bridge-nf-call switches under a temporary root;
// a negative value leaves the file out (br_netfilter not loaded).
func fakeProcSys(t *testing.T, v4, v6 int) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "net", "bridge")
	if v4 < 0 {
		return root
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]int{"bridge-nf-call-iptables": v4, "bridge-nf-call-ip6tables": v6} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte{byte('0' + v), '\n'}, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCheckBridgeNetfilter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v4, v6 int
		want   string // "" for no error
	}{
		{"on", 1, 1, ""},
		{"not loaded", -1, -1, "br_netfilter module is not loaded"},
		{"ipv4 off", 0, 1, "net.bridge.bridge-nf-call-iptables is off"},
		{"ipv6 off", 1, 0, "net.bridge.bridge-nf-call-ip6tables is off"},
		{"both off", 0, 0, "bridge-nf-call-iptables and net.bridge.bridge-nf-call-ip6tables is off"},
	} {
		err := firewall.CheckBridgeNetfilter(fakeProcSys(t, tc.v4, tc.v6))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (!errors.Is(err, firewall.ErrBridgeBypass) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want ErrBridgeBypass saying %q", tc.name, err, tc.want)
		}
	}
	root := fakeProcSys(t, 0, 0)
	if err := firewall.EnableBridgeNetfilter(root); err != nil {
		t.Fatalf("EnableBridgeNetfilter: %v", err)
	}
	if err := firewall.CheckBridgeNetfilter(root); err != nil {
		t.Errorf("after EnableBridgeNetfilter: %v", err)
	}
}
