package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/internal/testenv"
)

// shopMACBridges are the shop inventory's bridges whose networks hold a
// container bound to MAC addresses; shopInfraBridge holds none.
var shopMACBridges = []string{"br-8e02b6d1c9f3", "br-b7a4e2c05d18", "br-f19d3a6c4b20"}

const shopInfraBridge = "br-3c51f0a2e7d4"

// linkLocalLearn reads bridge br's no_linklocal_learn in the namespace
// ("0" or "1").
func (n *fwNetns) linkLocalLearn(t *testing.T, br string) string {
	t.Helper()
	f := strings.Fields(n.sh(t, "ip", "-d", "link", "show", br))
	for i := range f[:len(f)-1] {
		if f[i] == "no_linklocal_learn" {
			return f[i+1]
		}
	}
	t.Skipf("ip -d link show %s prints no no_linklocal_learn (too old an ip or kernel)", br)
	return ""
}

// TestFwApplyLinkLocalLearn: apply sets no_linklocal_learn on the bridges
// of the networks holding containers bound to MAC addresses, and on no
// other bridge; a bridge it cannot set (missing) is a warning naming it,
// not a failed apply; plan says what apply would set; --no-bind changes
// no bridge (a bridge recreated, as Docker does, stays as the kernel made
// it).
func TestFwApplyLinkLocalLearn(t *testing.T) {
	testenv.RequireCommand(t, "ip")
	n := newFwNetns(t)
	for _, br := range append([]string{shopInfraBridge}, shopMACBridges[:2]...) {
		n.sh(t, "ip", "link", "add", br, "type", "bridge")
	}
	missing := shopMACBridges[2]

	out, errOut, code := run(t, "", n.args("fw", "plan", shopPolicies, "--inventory", shopInventory)...)
	for _, br := range shopMACBridges {
		if line := "# bridge " + br + ": applying sets no_linklocal_learn 1"; code != ExitOK || !strings.Contains(out, line) {
			t.Errorf("plan: exit %d, %s; want the line %q", code, errOut, line)
		}
	}
	if strings.Contains(out, "# bridge "+shopInfraBridge) {
		t.Errorf("plan would set no_linklocal_learn on %s, whose network holds no container bound to MAC addresses", shopInfraBridge)
	}

	out, errOut, code = run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory)...)
	if code != ExitOK || !strings.Contains(errOut, "no_linklocal_learn not set") || !strings.Contains(errOut, "bridge "+missing) {
		t.Fatalf("apply with bridge %s missing: exit %d, %q, %s; want exit 0 and a warning naming it", missing, code, out, errOut)
	}
	for _, br := range shopMACBridges[:2] {
		if got := n.linkLocalLearn(t, br); got != "1" {
			t.Errorf("after apply, %s: no_linklocal_learn %s; want 1", br, got)
		}
	}
	if got := n.linkLocalLearn(t, shopInfraBridge); got != "0" {
		t.Errorf("after apply, %s (no container bound to MAC addresses): no_linklocal_learn %s; want 0", shopInfraBridge, got)
	}

	n.sh(t, "ip", "link", "add", missing, "type", "bridge")
	out, errOut, code = run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory)...)
	if code != ExitOK || strings.Contains(errOut, "no_linklocal_learn") || !strings.Contains(out, "no_linklocal_learn 1") {
		t.Fatalf("apply with every bridge present: exit %d, %q, %s", code, out, errOut)
	}
	if got := n.linkLocalLearn(t, missing); got != "1" {
		t.Errorf("after apply, %s: no_linklocal_learn %s; want 1", missing, got)
	}

	br := shopMACBridges[0]
	n.sh(t, "ip", "link", "del", br)
	n.sh(t, "ip", "link", "add", br, "type", "bridge")
	out, errOut, code = run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory, "--no-bind")...)
	if code != ExitOK || strings.Contains(out+errOut, "no_linklocal_learn") {
		t.Fatalf("apply --no-bind: exit %d, %q, %s; want no bridge option", code, out, errOut)
	}
	if got := n.linkLocalLearn(t, br); got != "0" {
		t.Errorf("after apply --no-bind, %s: no_linklocal_learn %s; want 0 (untouched)", br, got)
	}
}

// TestFwRunLinkLocalLearn: the daemon sets no_linklocal_learn at its
// first sync and again at a later sync after the bridge was recreated
// (Docker recreates a network's bridge with the option off).
func TestFwRunLinkLocalLearn(t *testing.T) {
	testenv.RequireCommand(t, "ip")
	n := newFwNetns(t)
	for _, br := range shopMACBridges {
		n.sh(t, "ip", "link", "add", br, "type", "bridge")
	}
	t.Chdir(root)
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	orig, err := os.ReadFile(shopInventory)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inv, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testenv.SyncBuffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, n.args("fw", "run", shopPolicies, "--inventory", inv, "--interval", "100ms", "--debounce", "50ms"), strings.NewReader(""), &out, &errOut)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("fw run did not stop")
		}
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s\nstdout:\n%s\nstderr:\n%s", what, out.String(), errOut.String())
	}
	syncs := func() int { return strings.Count(out.String(), "synced (") }
	waitFor("the first sync", func() bool { return syncs() >= 1 })
	for _, br := range shopMACBridges {
		if got := n.linkLocalLearn(t, br); got != "1" {
			t.Errorf("after the first sync, %s: no_linklocal_learn %s; want 1", br, got)
		}
	}
	br := shopMACBridges[1]
	n.sh(t, "ip", "link", "del", br)
	n.sh(t, "ip", "link", "add", br, "type", "bridge")
	if got := n.linkLocalLearn(t, br); got != "0" {
		t.Fatalf("a recreated bridge: no_linklocal_learn %s; want 0", got)
	}
	before := syncs()
	added := string(orig) + "  - name: newcomer\n    namespace: api\n    labels: {app: orders}\n    ips: [10.20.2.77]\n"
	if err := os.WriteFile(inv, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("a sync after the change", func() bool { return syncs() > before })
	if got := n.linkLocalLearn(t, br); got != "1" {
		t.Errorf("after a sync, the recreated %s: no_linklocal_learn %s; want 1", br, got)
	}
	if strings.Contains(errOut.String(), "no_linklocal_learn not set") {
		t.Errorf("the daemon warned with every bridge present:\n%s", errOut.String())
	}
}
