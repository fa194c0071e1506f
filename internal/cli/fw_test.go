package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/wardsec/ward/internal/testenv"
)

const (
	shopInventory = "firewall/testdata/shop-inventory.yaml"
	shopPolicies  = "examples/shop"
)

// fwNetns is a private network namespace for the fw commands, with a
// lock file of the test's own.
type fwNetns struct {
	file *os.File
	path string
	lock string
}

func newFwNetns(t *testing.T) *fwNetns {
	t.Helper()
	testenv.RequireCommand(t, "nft")
	testenv.RequireCommand(t, "nsenter")
	f := testenv.NewNetns(t)
	return &fwNetns{file: f, path: testenv.NetnsPath(f), lock: filepath.Join(t.TempDir(), "fw.lock")}
}

// args appends the namespace and lock flags.
func (n *fwNetns) args(args ...string) []string {
	return append(args, "--netns", n.path, "--lock", n.lock)
}

// sh runs a command inside the namespace.
func (n *fwNetns) sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command("nsenter", append([]string{"--net=" + n.path, name}, args...)...) // #nosec G204 -- fixed programs, the test's own arguments
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// listing is the live table as nft lists it, counters blanked, or "" when
// absent.
func (n *fwNetns) listing(t *testing.T) string {
	t.Helper()
	return testenv.WardListing(func(args ...string) string { return n.sh(t, "nft", args...) })
}

func plannedText(t *testing.T) string {
	t.Helper()
	out, errOut, code := run(t, "", "fw", "plan", shopPolicies, "--inventory", shopInventory, "--diff=false")
	if code != ExitOK {
		t.Fatalf("plan: exit %d: %s", code, errOut)
	}
	return out
}

// TestFwApplyStatusRemove runs the commands' life cycle in a private
// namespace: status of nothing, apply (the kernel lists exactly the plan),
// plan's difference, an idempotent re-apply, status against the policies,
// a change behind Ward's back that status reports, and a removal that
// leaves no trace.
func TestFwApplyStatusRemove(t *testing.T) {
	n := newFwNetns(t)
	want := plannedText(t)

	if out, _, code := run(t, "", n.args("fw", "status")...); code != ExitFindings || !strings.Contains(out, "not loaded") {
		t.Fatalf("status before apply: exit %d, %q; want 1, not loaded", code, out)
	}
	out, errOut, code := run(t, "", n.args("fw", "plan", shopPolicies, "--inventory", shopInventory)...)
	if code != ExitOK || !strings.HasPrefix(out, want) || !strings.Contains(out[len(want):], "# + table inet ward (not loaded)") {
		t.Fatalf("plan before apply: exit %d, %s\n%s", code, errOut, out[len(want):])
	}
	out, errOut, code = run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory)...)
	if code != ExitOK || !strings.HasPrefix(out, "applied table inet ward:") {
		t.Fatalf("apply: exit %d, %q, %s", code, out, errOut)
	}
	if closed := "any other port of br-3c51f0a2e7d4, br-8e02b6d1c9f3, br-b7a4e2c05d18, br-f19d3a6c4b20 closed"; !strings.Contains(out, closed) {
		t.Errorf("apply does not say the inventory's bridges are closed (%q): %q", closed, out)
	}
	if got := n.listing(t); got != want {
		t.Fatalf("after apply, nft lists a different table:\n%s", got)
	}
	out, _, code = run(t, "", n.args("fw", "plan", shopPolicies, "--inventory", shopInventory)...)
	if code != ExitOK || !strings.HasSuffix(out, "# the live ruleset is identical\n") {
		t.Errorf("plan after apply: exit %d, %s", code, out[len(want):])
	}
	out, errOut, code = run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory)...)
	if code != ExitOK || !strings.HasPrefix(out, "re-applied (unchanged)") || n.listing(t) != want {
		t.Errorf("second apply: exit %d, %q, %s", code, out, errOut)
	}
	out, _, code = run(t, "", n.args("fw", "status", shopPolicies, "--inventory", shopInventory)...)
	if code != ExitOK || !strings.Contains(out, "loaded") || !strings.Contains(out, "identical") {
		t.Errorf("status: exit %d, %q", code, out)
	}

	n.sh(t, "nft", "flush", "chain", "inet", "ward", "forward")
	out, _, code = run(t, "", n.args("fw", "status", shopPolicies, "--inventory", shopInventory)...)
	if code != ExitFindings || !strings.Contains(out, "+ chain forward rule 1") {
		t.Errorf("status after a change behind Ward's back: exit %d, %q; want 1 and the missing rules", code, out)
	}

	// --no-bind: the bridge table keeps the ports (VLAN-tagged frames to
	// them dropped, broadcasts marked) without binding addresses.
	out, errOut, code = run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory, "--no-bind")...)
	if l := n.listing(t); code != ExitOK || !strings.Contains(out, "not bound to addresses") ||
		strings.Contains(l, "addrs_v4") || strings.Contains(l, "hook prerouting") || strings.Contains(l, "table arp ward") || !strings.Contains(l, "ether type 8021q oifname @ports counter") {
		t.Errorf("apply --no-bind: exit %d, %q, %s; want the bridge table's ports without address bindings:\n%s", code, out, errOut, l)
	}

	out, errOut, code = run(t, "", n.args("fw", "remove")...)
	if code != ExitOK || !strings.Contains(out, "removed") {
		t.Fatalf("remove: exit %d, %q, %s", code, out, errOut)
	}
	if got := n.sh(t, "nft", "list", "ruleset"); got != "" {
		t.Errorf("after remove, the namespace's ruleset is not empty:\n%s", got)
	}
	if _, _, code := run(t, "", n.args("fw", "remove")...); code != ExitOK {
		t.Errorf("remove of nothing: exit %d, want 0", code)
	}
}

// TestFwApplyBadInput: an invalid policy, a bad inventory, a missing one:
// exit 2 with the file and line, and the live ruleset untouched.
func TestFwApplyBadInput(t *testing.T) {
	n := newFwNetns(t)
	if _, errOut, code := run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory)...); code != ExitOK {
		t.Fatalf("apply: exit %d, %s", code, errOut)
	}
	before := n.listing(t)

	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "policy.yaml"), []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: api}
spec:
  podSelector: {}
  ingress:
    - ports:
        - port: 80
          protocol: ICMP
`), 0o600); err != nil {
		t.Fatal(err)
	}
	badInv := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(badInv, []byte("containers:\n  - name: a\n    ips: [10.0.0.1]\n    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"invalid policy", []string{bad, "--inventory", shopInventory}, "policy.yaml:"},
		{"unknown inventory field", []string{shopPolicies, "--inventory", badInv}, "inventory.yaml:4"},
		{"no inventory", []string{shopPolicies}, "--docker or --inventory"},
		{"both sources", []string{shopPolicies, "--inventory", shopInventory, "--docker"}, "exclude each other"},
	} {
		_, errOut, code := run(t, "", n.args(append([]string{"fw", "apply"}, tc.args...)...)...)
		if code != ExitError || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q; want 2 and %q", tc.name, code, errOut, tc.want)
		}
		if got := n.listing(t); got != before {
			t.Errorf("%s: the live ruleset changed", tc.name)
		}
	}
}

// TestFwApplyBrNetfilter: with bridged traffic not handed to netfilter in
// the namespace, apply refuses and changes nothing; with
// --enable-br-netfilter it fixes the switches and applies. The switches
// are per namespace (Linux 5.3 and later) once br_netfilter is loaded,
// which modprobe can do: a kernel without it fails the test under CI.
func TestFwApplyBrNetfilter(t *testing.T) {
	testenv.RequireCommand(t, "sysctl")
	testenv.RequireKernel(t, "br_netfilter")
	n := newFwNetns(t)
	const sw = "net.bridge.bridge-nf-call-iptables"
	n.sh(t, "sysctl", "-w", sw+"=0")
	_, errOut, code := run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory)...)
	if code != ExitError || !strings.Contains(errOut, "bypass netfilter") || !strings.Contains(errOut, "bridge-nf-call-iptables is off") {
		t.Fatalf("apply with %s=0: exit %d, %q; want a refusal", sw, code, errOut)
	}
	if n.listing(t) != "" {
		t.Fatal("a refused apply loaded a table")
	}
	out, errOut, code := run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory, "--enable-br-netfilter")...)
	if code != ExitOK {
		t.Fatalf("apply --enable-br-netfilter: exit %d, %q, %s", code, out, errOut)
	}
	if got := strings.TrimSpace(n.sh(t, "sysctl", "-n", sw)); got != "1" {
		t.Errorf("%s = %s after --enable-br-netfilter", sw, got)
	}
}

// TestFwLock: while another process holds the lock, apply waits, then
// gives up with exit 2 and changes nothing.
func TestFwLock(t *testing.T) {
	n := newFwNetns(t)
	l := flock.New(n.lock)
	if ok, err := l.TryLock(); !ok || err != nil {
		t.Fatal(ok, err)
	}
	_, errOut, code := run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory, "--lock-timeout", "200ms")...)
	if code != ExitError || !strings.Contains(errOut, "another ward fw holds it") {
		t.Errorf("apply under another's lock: exit %d, %q", code, errOut)
	}
	if n.listing(t) != "" {
		t.Error("apply loaded a table without the lock")
	}
	_ = l.Unlock()
	if _, errOut, code := run(t, "", n.args("fw", "apply", shopPolicies, "--inventory", shopInventory)...); code != ExitOK {
		t.Errorf("apply after the lock was released: exit %d, %s", code, errOut)
	}
}

// TestFwRun runs the daemon on a copy of the shop's inventory: it applies
// at start; a container added to the inventory file is enforced; a deleted
// table is re-applied; an invalid inventory leaves the previous ruleset;
// on cancellation it stops and leaves the ruleset loaded.
func TestFwRun(t *testing.T) {
	n := newFwNetns(t)
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
	first := n.listing(t)
	if !strings.Contains(first, "10.20.2.11") {
		t.Fatalf("after start, the table does not hold the shop's addresses:\n%s", first)
	}

	added := string(orig) + `  - name: newcomer
    namespace: api
    labels: {app: orders}
    ips: [10.20.2.77]
    ports:
      - {name: http, port: 8080}
`
	if err := os.WriteFile(inv, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("the new container's rules", func() bool { return strings.Contains(n.listing(t), "10.20.2.77") })
	waitFor("the change logged", func() bool {
		return strings.Contains(out.String(), "\n  + ") && strings.Contains(out.String(), "element 10.20.2.77")
	})

	n.sh(t, "nft", "delete", "table", "inet", "ward")
	waitFor("the table re-applied after its deletion", func() bool { return strings.Contains(out.String(), "tampering") && n.listing(t) != "" })

	loaded := n.listing(t)
	if err := os.WriteFile(inv, []byte(added+"    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("the invalid inventory reported", func() bool { return strings.Contains(errOut.String(), "sync failed") })
	if n.listing(t) != loaded {
		t.Error("an invalid inventory changed the live ruleset")
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("fw run exit %d\n%s", code, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("fw run did not stop")
	}
	if n.listing(t) == "" {
		t.Error("fw run removed the ruleset on stop; it must stay (fail closed)")
	}
}

// TestSystemdUnit: the units in deploy/systemd pass systemd's own check
// (with ward built in place of /usr/local/bin/ward) and their sandbox
// keeps systemd's exposure score low: CAP_NET_ADMIN as the only
// capability, netlink and unix sockets only, a read-only system.
func TestSystemdUnit(t *testing.T) {
	testenv.RequireCommand(t, "systemd-analyze")
	t.Chdir(root)
	dir := t.TempDir()
	bin := filepath.Join(dir, "ward")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/ward").CombinedOutput(); err != nil { // #nosec G204 -- fixed command
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, name := range []string{"ward-fw.service", "ward-fw-close.service"} {
		unit, err := os.ReadFile(filepath.Join("deploy/systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(unit), "/usr/local/bin/ward", bin)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 { // #nosec G204 -- the test's own file
			t.Errorf("%s: systemd-analyze verify: %v\n%s", name, err, out)
		}
		out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=30", path).CombinedOutput() // #nosec G204 -- the test's own file
		if err != nil {
			t.Errorf("%s: systemd-analyze security: exposure above 3.0 or error: %v\n%s", name, err, out)
		}
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no exposure level in:\n%s", name, out)
		}
		t.Logf("%s: systemd exposure level %s (0 best, 10 worst)", name, m[1])
	}
}

// TestFwRunBrNetfilter: while `ward fw run --enable-br-netfilter` runs,
// bridge-nf-call-iptables is turned off behind its back (a `sysctl
// --system`, another tool): bridged traffic then meets no rule of Ward's
// table, so containers of one bridge talk past every policy. The daemon
// finds it at its next tamper check and turns the switch back on; without
// --enable-br-netfilter, it reports the failed sync. Before, nothing
// happened until the next Docker event or file change.
func TestFwRunBrNetfilter(t *testing.T) {
	testenv.RequireCommand(t, "sysctl")
	testenv.RequireKernel(t, "br_netfilter")
	const sw = "net.bridge.bridge-nf-call-iptables"
	for _, enable := range []bool{true, false} {
		n := newFwNetns(t)
		t.Chdir(root)
		n.sh(t, "sysctl", "-w", sw+"=1", "net.bridge.bridge-nf-call-ip6tables=1")
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut testenv.SyncBuffer
		done := make(chan int)
		args := []string{"fw", "run", shopPolicies, "--inventory", shopInventory, "--interval", "100ms", "--debounce", "50ms"}
		if enable {
			args = append(args, "--enable-br-netfilter")
		}
		go func() { done <- Run(ctx, n.args(args...), strings.NewReader(""), &out, &errOut) }()
		waitFor := func(what string, cond func() bool) {
			t.Helper()
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if cond() {
					return
				}
			}
			t.Fatalf("--enable-br-netfilter %v: timed out waiting for %s\nstdout:\n%s\nstderr:\n%s", enable, what, out.String(), errOut.String())
		}
		waitFor("the first sync", func() bool { return strings.Count(out.String(), "synced (") >= 1 })
		n.sh(t, "sysctl", "-w", sw+"=0")
		if enable {
			waitFor(sw+" turned back on", func() bool { return strings.TrimSpace(n.sh(t, "sysctl", "-n", sw)) == "1" })
		} else {
			waitFor("the bypass reported", func() bool {
				return strings.Contains(errOut.String(), "sync failed") && strings.Contains(errOut.String(), "bridge-nf-call-iptables is off")
			})
		}
		cancel()
		select {
		case code := <-done:
			if code != ExitOK {
				t.Errorf("fw run exit %d\n%s", code, errOut.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatal("fw run did not stop")
		}
	}
}

// TestFwPlanPortlessContainers plans with an inventory file that names
// its network's bridge and lists the interfaces of one container (b) but
// not of the other (a): the ruleset closes every port of the bridge it
// does not bind, a's too, so a has no traffic through the bridge at all,
// and nothing said so (an outage of a container the inventory lists).
// Now a warning names a's file and line and the bridge, the exit status
// unchanged; with both listed, or with --no-bind (which closes no
// bridge), there is none.
func TestFwPlanPortlessContainers(t *testing.T) {
	inv := func(aInterfaces string) string {
		p := filepath.Join(t.TempDir(), "inventory.yaml")
		data := "networks:\n" +
			"  - name: n\n" +
			"    subnets: [10.30.0.0/24]\n" +
			"    bridge: br-0123456789ab\n" +
			"containers:\n" +
			"  - name: a\n" +
			"    labels: {app: a}\n" +
			"    ips: [10.30.0.2]\n" + aInterfaces +
			"  - name: b\n" +
			"    labels: {app: b}\n" +
			"    ips: [10.30.0.3]\n" +
			"    interfaces: [veth0b]\n"
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	portless, listed := inv(""), inv("    interfaces: [veth0a]\n")
	for _, tc := range []struct {
		name string
		args []string
		warn string
	}{
		{"a without interfaces", []string{"--inventory", portless},
			portless + ":6: container default/a lists no interfaces, but other containers list theirs, so the ruleset closes every port of bridge br-0123456789ab (network n) that it does not bind, this container's too: all its traffic through br-0123456789ab is dropped. List its interfaces"},
		{"both listed", []string{"--inventory", listed}, ""},
		{"a without interfaces, --no-bind", []string{"--inventory", portless, "--no-bind"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, "", append([]string{"fw", "plan", shopPolicies, "--diff=false"}, tc.args...)...)
			if code != ExitOK || !strings.Contains(out, "table inet ward") {
				t.Fatalf("exit %d, stderr %q; want 0 and the plan", code, errOut)
			}
			want := 0
			if tc.warn != "" {
				want = 1
				if !strings.Contains(errOut, "ward: warning: "+tc.warn) {
					t.Errorf("stderr lacks %q:\n%s", tc.warn, errOut)
				}
			}
			if n := strings.Count(errOut, "ward: warning: "); n != want {
				t.Errorf("%d warnings, want %d:\n%s", n, want, errOut)
			}
		})
	}
}

// TestFwPlanUnclosedBridges plans the shop with an inventory whose
// networks name their bridges but whose containers list no interfaces:
// the ruleset binds no port and so closes none of those bridges', though
// `bridge:` reads as closing them. Before, nothing said so; now each
// such network is a warning naming the file and line, the exit status
// unchanged (the ruleset is still valid and judges what it can).
// --no-bind, which binds no port by choice, is not warned of; the shop's
// own inventory, which lists some containers' interfaces, is warned of
// for the others (TestFwPlanPortlessContainers).
func TestFwPlanUnclosedBridges(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, shopInventory))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for l := range strings.Lines(string(data)) {
		if f := strings.TrimSpace(l); !strings.HasPrefix(f, "interfaces:") && !strings.HasPrefix(f, "macs:") {
			kept = append(kept, l)
		}
	}
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(inv, []byte(strings.Join(kept, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		warn []string // want these warnings, and no other
	}{
		{"no interfaces", []string{"--inventory", inv}, []string{
			inv + ":9: network infra names its bridge br-3c51f0a2e7d4, but no container lists its interfaces: the ruleset binds no port, so it closes no port of br-3c51f0a2e7d4",
			inv + ":12: network edge names its bridge br-8e02b6d1c9f3",
			inv + ":15: network backend names its bridge br-b7a4e2c05d18",
			inv + ":18: network data names its bridge br-f19d3a6c4b20",
		}},
		{"no interfaces, --no-bind", []string{"--inventory", inv, "--no-bind"}, nil},
		// The shop's inventory lists some containers' interfaces and
		// names every bridge: the others' ports are closed with the
		// ports attached later (an outage), one warning per container
		// and network (TestFwPlanPortlessContainers).
		{"the shop's inventory", []string{"--inventory", shopInventory}, []string{
			shopInventory + ":23: container kube-system/coredns lists no interfaces, but other containers list theirs, so the ruleset closes every port of bridge br-3c51f0a2e7d4 (network infra) that it does not bind, this container's too: all its traffic through br-3c51f0a2e7d4 is dropped",
			shopInventory + ":39: container web/frontend lists no interfaces, but other containers list theirs, so the ruleset closes every port of bridge br-8e02b6d1c9f3 (network edge)",
			shopInventory + ":39: container web/frontend lists no interfaces, but other containers list theirs, so the ruleset closes every port of bridge br-b7a4e2c05d18 (network backend)",
			shopInventory + ":64: container api/orders lists no interfaces, but other containers list theirs, so the ruleset closes every port of bridge br-b7a4e2c05d18 (network backend)",
			shopInventory + ":64: container api/orders lists no interfaces, but other containers list theirs, so the ruleset closes every port of bridge br-f19d3a6c4b20 (network data)",
			shopInventory + ":101: container data/redis lists no interfaces, but other containers list theirs, so the ruleset closes every port of bridge br-f19d3a6c4b20 (network data)",
		}},
		{"the shop's inventory, --no-bind", []string{"--inventory", shopInventory, "--no-bind"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, "", append([]string{"fw", "plan", shopPolicies, "--diff=false"}, tc.args...)...)
			if code != ExitOK || !strings.Contains(out, "table inet ward") {
				t.Fatalf("exit %d, stderr %q; want 0 and the plan", code, errOut)
			}
			if n := strings.Count(errOut, "ward: warning: "); n != len(tc.warn) {
				t.Errorf("%d warnings, want %d:\n%s", n, len(tc.warn), errOut)
			}
			for _, w := range tc.warn {
				if !strings.Contains(errOut, "ward: warning: "+w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}
