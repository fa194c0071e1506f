package lab_test

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// TestReuseStaleConnection replays address reuse with a tracked
// connection: in the spoof scenario (c admits b on 53/UDP, a on 54/UDP
// only), b has a UDP flow to c:53 that conntrack tracks; then b leaves
// the inventory (a container that died: its port is closed) and a takes
// its address, as Docker gives a freed address to the next container it
// starts, and sends c:53 datagrams from b's address and source port,
// the stale connection's tuple, as b's successor's application would.
// Nothing of the new ruleset allows a to reach c:53, and the stale
// connection is one the new policies deny, so it must be gone before a's
// port is bound: before, `ward fw apply` and every sync of `ward fw run`
// ended it only after the new ruleset was live (and, there, read back),
// and until then the ruleset accepted a's datagrams as the tracked
// connection's, without a policy lookup: a inherited b's permission
// (about 20 datagrams of a's stream reached c per apply here). The
// control ends stale connections by the old owner's verdicts, as a
// ruleset that kept them would: a's datagrams then reach c.
func TestReuseStaleConnection(t *testing.T) {
	requireLab(t)
	set := loadManifests(t, "testdata/spoof/spoof.yaml")
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	var a, b, c *firewall.Container
	for _, ct := range plan.Inventory.Containers {
		switch ct.ID() {
		case "spoof/a":
			a = ct
		case "spoof/b":
			b = ct
		case "spoof/c":
			c = ct
		}
	}
	if a == nil || b == nil || c == nil || len(a.Interfaces) != 1 {
		t.Fatalf("inventory %v: want spoof/a (with one bridge port), spoof/b and spoof/c", plan.Inventory.Containers)
	}
	reused, cAddr := b.IPs[0], c.IPs[0]
	if !reused.Is4() || !cAddr.Is4() {
		t.Fatalf("b's %s and c's %s: want IPv4 first", reused, cAddr)
	}
	// The inventory after the reuse: b gone, a on b's IPv4 address.
	after := *plan.Inventory
	after.Containers = nil
	for _, ct := range plan.Inventory.Containers {
		switch ct {
		case b:
			continue
		case a:
			na := *a
			na.IPs = slices.Clone(a.IPs)
			na.IPs[0] = reused
			ct = &na
		}
		after.Containers = append(after.Containers, ct)
	}
	model, err := after.Set(set)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(model)
	if err != nil {
		t.Fatal(err)
	}
	newRS, err := firewall.Compile(eng, &after, firewall.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(newRS.Bridges) == 0 {
		t.Fatal("the ruleset closes no bridge: b's port would stay open")
	}
	newO := firewall.NewOracle(eng, &after, firewall.Options{})
	oldO := firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{})
	if !oldO.Allows(firewall.Forward, reused, cAddr, portset.UDP, 53) || newO.Allows(firewall.Forward, reused, cAddr, portset.UDP, 53) {
		t.Fatalf("%s -> %s:53/UDP: want allowed for b, denied for a", reused, cAddr)
	}

	l := startLab(t, plan.Hosts)
	ae, ce := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/c")
	flow := netip.AddrPortFrom(reused, 40053)
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(cAddr, 53))
	// a takes b's address (it keeps its own: the old ruleset binds its
	// port to that only, so nothing a sends from b's address passes it)
	// and knows c's MAC address, as a container does whose neighbour
	// cache Docker's MAC addresses (derived from the IP address before
	// Docker 26) keep valid.
	var aConn, bConn *net.UDPConn
	if err := l.InHost("spoof/a", func() error {
		link, err := netlink.LinkByIndex(ae.index)
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: reused.AsSlice(), Mask: net.CIDRMask(32, 32)}, Flags: unix.IFA_F_NODAD}); err != nil {
			return err
		}
		if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: ae.index, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, IP: cAddr.AsSlice(), HardwareAddr: ce.mac}); err != nil {
			return err
		}
		aConn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(flow))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer aConn.Close()
	if err := l.InHost("spoof/b", func() (err error) {
		bConn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(flow))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer bConn.Close()
	sniff := capture(t, l, "spoof/c", ce)
	marker := []byte("ward-reuse-stale-connection")

	// round loads the old ruleset (conntrack emptied), has b open its
	// flow to c:53 (c answers), then, with a streaming c:53 from the
	// flow's tuple, applies the new ruleset with apply, which returns
	// how many connections it ended; round returns that and how many of
	// a's datagrams reached c.
	round := func(apply func() int) (ended, delivered int) {
		t.Helper()
		if err := l.Load(plan.Ruleset); err != nil {
			t.Fatal(err)
		}
		if !udpAnswered(t, bConn, to) {
			t.Fatal("b's flow to c:53 got no answer under the old ruleset")
		}
		stop := make(chan struct{})
		var sent atomic.Int64
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := aConn.WriteToUDP(marker, to); err == nil {
					sent.Add(1)
				}
				time.Sleep(20 * time.Microsecond)
			}
		})
		seen := sniffCount(sniff, marker, stop)
		time.Sleep(50 * time.Millisecond) // a streams under the old ruleset: dropped at its port
		ended = apply()
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		if sent.Load() == 0 {
			t.Fatal("a sent nothing")
		}
		return ended, seen()
	}
	labApply := func(o *firewall.Oracle) func() int {
		return func() int {
			n, err := l.Apply(newRS, o)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	// `ward fw apply` itself, in the router's namespace.
	ward, inv := buildWard(t), writeInventory(t, &after)
	args := []string{"fw", "apply", "testdata/spoof/spoof.yaml", "--inventory", inv,
		"--netns", filepath.Join(lab.NetnsDir, l.Name()+"-r"), "--lock", filepath.Join(t.TempDir(), "fw.lock")}
	wardApply := func() int {
		out, err := exec.Command(ward, args...).CombinedOutput() // #nosec G204 -- the test's own binary and arguments
		if err != nil {
			t.Fatalf("ward %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		m := regexp.MustCompile(`; (\d+) connections the policies deny were ended`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("ward fw apply said:\n%s", out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	for _, tc := range []struct {
		name  string
		apply func() int
	}{{"Lab.Apply", labApply(newO)}, {"ward fw apply", wardApply}} {
		// b's connection is the only one tracked.
		if ended, delivered := round(tc.apply); delivered != 0 || ended != 1 {
			t.Errorf("%s: a on b's address: %d of its datagrams to c:53 arrived on b's tracked connection, %d connections ended; want none, 1", tc.name, delivered, ended)
		}
	}
	if _, delivered := round(labApply(oldO)); delivered == 0 {
		t.Errorf("control (b's connection kept): none of a's datagrams reached c: the test cannot see the stale connection")
	}
}

// writeInventory writes inv as an inventory file (firewall.LoadInventory)
// of its networks and its containers' names, namespaces, labels,
// addresses, ports and bridge ports, and returns its path.
func writeInventory(t *testing.T, inv *firewall.Inventory) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("networks:\n")
	for _, n := range inv.Networks {
		fmt.Fprintf(&b, "  - name: %q\n    subnets: [%s]\n", n.Name, quoted(n.Subnets))
		if n.Bridge != "" {
			fmt.Fprintf(&b, "    bridge: %q\n", n.Bridge)
		}
	}
	b.WriteString("containers:\n")
	for _, c := range inv.Containers {
		fmt.Fprintf(&b, "  - name: %q\n    namespace: %q\n    ips: [%s]\n    interfaces: [%s]\n    labels: {", c.Name, c.Namespace, quoted(c.IPs), quoted(c.Interfaces))
		for i, k := range slices.Sorted(maps.Keys(c.Labels)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %q", k, c.Labels[k])
		}
		b.WriteString("}\n    ports:\n")
		for _, p := range c.Ports {
			fmt.Fprintf(&b, "      - {name: %q, port: %d, protocol: %s}\n", p.Name, p.Port, p.Protocol)
		}
	}
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// quoted is xs, each quoted, separated by commas.
func quoted[T any](xs []T) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", fmt.Sprint(x))
	}
	return strings.Join(q, ", ")
}

// udpAnswered sends from conn to to until an answer comes back (at most
// a second).
func udpAnswered(t *testing.T, conn *net.UDPConn, to *net.UDPAddr) bool {
	t.Helper()
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		if _, err := conn.WriteToUDP([]byte("hello"), to); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, _, err := conn.ReadFromUDP(buf); err == nil {
			return true
		}
	}
	return false
}

// sniffCount counts the frames holding marker that the packet socket fd
// (capture) reads coming in until stop is closed.
func sniffCount(fd int, marker []byte, stop <-chan struct{}) func() int {
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			select {
			case <-stop:
				return
			default:
			}
			k, from, err := unix.Recvfrom(fd, buf, 0)
			if ll, ok := from.(*unix.SockaddrLinklayer); err == nil && ok && ll.Pkttype != unix.PACKET_OUTGOING && bytes.Contains(buf[:k], marker) {
				n.Add(1)
			}
		}
	})
	return func() int { wg.Wait(); return int(n.Load()) }
}
