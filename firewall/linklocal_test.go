package firewall_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
)

// TestNoLinkLocalLearn: the ruleset names the bridges of the networks
// that hold a container bound to MAC addresses (the shop's edge, backend
// and data networks; not infra, whose only container has no port), and
// none with --no-bind or an inventory without macs.
func TestNoLinkLocalLearn(t *testing.T) {
	m := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	rs := compile(t, m, firewall.Options{})
	want := []string{"br-8e02b6d1c9f3", "br-b7a4e2c05d18", "br-f19d3a6c4b20"}
	if d := cmp.Diff(rs.NoLinkLocalLearn, want); d != "" {
		t.Errorf("NoLinkLocalLearn (-got +want):\n%s", d)
	}
	if rs := compile(t, m, firewall.Options{NoBind: true}); rs.NoLinkLocalLearn != nil {
		t.Errorf("with NoBind, NoLinkLocalLearn = %v; want none", rs.NoLinkLocalLearn)
	}
	for _, c := range m.inv.Containers {
		c.MACs = nil
	}
	if rs := compile(t, m, firewall.Options{}); rs.NoLinkLocalLearn != nil || len(rs.Bridges) == 0 {
		t.Errorf("without macs, NoLinkLocalLearn = %v (bridges %v); want none", rs.NoLinkLocalLearn, rs.Bridges)
	}
}

// TestSetLinkLocalLearning sets and clears a real bridge's
// no_linklocal_learn in a namespace of the test's own, as `ip -d link`
// reads it, and fails loudly, naming each, for a link that is no bridge
// and for a missing one, while still setting the bridge listed after
// them.
func TestSetLinkLocalLearning(t *testing.T) {
	testenv.RequireCommand(t, "ip")
	testenv.RequireCommand(t, "nsenter")
	ns := testenv.NewNetns(t)
	ip := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("nsenter", append([]string{"--net=/proc/self/fd/3", "ip"}, args...)...) // #nosec G204 -- fixed programs, the test's own arguments
		cmd.ExtraFiles = []*os.File{ns}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ip("link", "add", "br0", "type", "bridge")
	ip("link", "add", "br1", "type", "bridge")
	ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
	option := func(br string) string {
		t.Helper()
		f := strings.Fields(ip("-d", "link", "show", br))
		for i := range f[:len(f)-1] {
			if f[i] == "no_linklocal_learn" {
				return f[i+1]
			}
		}
		t.Skipf("ip -d link show %s prints no no_linklocal_learn (too old an ip or kernel)", br)
		return ""
	}
	if got := option("br0"); got != "0" {
		t.Fatalf("a new bridge: no_linklocal_learn %s; want 0", got)
	}
	fd := int(ns.Fd()) // #nosec G115 -- a file descriptor fits an int
	if err := firewall.SetLinkLocalLearning(fd, []string{"br0"}, false); err != nil {
		t.Fatal(err)
	}
	if got := option("br0"); got != "1" {
		t.Errorf("after SetLinkLocalLearning(false): no_linklocal_learn %s; want 1", got)
	}
	if got := option("br1"); got != "0" {
		t.Errorf("another bridge changed: no_linklocal_learn %s; want 0", got)
	}
	if err := firewall.SetLinkLocalLearning(fd, []string{"br0"}, true); err != nil {
		t.Fatal(err)
	}
	if got := option("br0"); got != "0" {
		t.Errorf("after SetLinkLocalLearning(true): no_linklocal_learn %s; want 0", got)
	}

	err := firewall.SetLinkLocalLearning(fd, []string{"v0", "nosuch", "br1"}, false)
	t.Logf("SetLinkLocalLearning(v0, nosuch, br1): %v", err)
	if !errors.Is(err, firewall.ErrLinkLocalLearning) || !strings.Contains(err.Error(), "bridge v0:") || !strings.Contains(err.Error(), "bridge nosuch:") || strings.Contains(err.Error(), "br1") {
		t.Errorf("SetLinkLocalLearning(v0, nosuch, br1) = %v; want ErrLinkLocalLearning naming v0 and nosuch, not br1", err)
	}
	if got := option("br1"); got != "1" {
		t.Errorf("br1, after two links that failed: no_linklocal_learn %s; want 1", got)
	}
}
