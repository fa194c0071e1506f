package lab_test

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/ethframe"
	"github.com/wardsec/ward/portset"
)

// TestUnownedUnicast attacks the spoof scenario (c admits a on 54/UDP
// only) with a's datagrams in frames to c's MAC address, addressed to a
// unicast address above the group ranges, which no container holds:
// IPv4's class E (240.0.0.9) and IPv6's site-local prefix (fec0::9). No
// ingress map holds such an address, so the inet table judged only a's
// egress (open here, as under an egress policy admitting 0.0.0.0/0 or
// ::/0), and the bridge table's destination check looked at addresses
// below 224.0.0.0 and fe80:: only: the frames reached c's interface,
// past c's ingress (c with NET_RAW reads them; with NET_ADMIN it could
// take the address and receive them on a socket). None may arrive now,
// while a's datagram to c's own address on 54 still does. Without the
// bridge table (negative control) each arrives.
func TestUnownedUnicast(t *testing.T) {
	requireLab(t)
	t.Parallel()
	plan := planFor(t, "testdata/spoof/spoof.yaml")
	l := startLab(t, plan.Hosts)
	a, c := hostEth0(t, l, "spoof/a"), hostEth0(t, l, "spoof/c")
	o := firewall.NewOracle(plan.Engine, plan.Inventory, firewall.Options{})
	sniff := capture(t, l, "spoof/c", c)
	n := 0
	send := func(src, dst netip.AddrPort) bool {
		t.Helper()
		n++
		marker := fmt.Appendf(nil, "ward-unowned-%d-%d", os.Getpid(), n)
		f, err := ethframe.UDP(a.mac, c.mac, src, dst, marker)
		if err != nil {
			t.Fatal(err)
		}
		sendRaw(t, l, "spoof/a", a, f)
		return seen(sniff, marker, testTimeout)
	}
	type attempt struct{ src, dst, own netip.AddrPort }
	attempts := []attempt{
		{netip.MustParseAddrPort("10.9.0.1:40000"), netip.MustParseAddrPort("240.0.0.9:7000"), netip.MustParseAddrPort("10.9.0.3:54")},
		{netip.MustParseAddrPort("[fd00:9::1]:40000"), netip.MustParseAddrPort("[fec0::9]:7000"), netip.MustParseAddrPort("[fd00:9::3]:54")},
	}
	for _, at := range attempts {
		if !o.Allows(firewall.Forward, at.src.Addr(), at.own.Addr(), portset.UDP, at.own.Port()) ||
			o.Allows(firewall.Forward, at.src.Addr(), at.own.Addr(), portset.UDP, at.dst.Port()) {
			t.Fatalf("the engine must allow a to c on %d/UDP and deny it on %d/UDP", at.own.Port(), at.dst.Port())
		}
	}

	if err := l.Load(plan.Ruleset); err != nil {
		t.Fatal(err)
	}
	for _, at := range attempts {
		if send(at.src, at.dst) {
			t.Errorf("a's datagram to %s, in a frame to c's MAC address, reached c's interface", at.dst)
		}
		if !send(at.src, at.own) {
			t.Errorf("a's datagram to c at %s, which c admits, did not arrive", at.own)
		}
	}

	if err := l.Load(withoutBridgeTable(plan.Ruleset)); err != nil {
		t.Fatal(err)
	}
	for _, at := range attempts {
		if !send(at.src, at.dst) {
			t.Errorf("without the bridge table, a's datagram to %s did not reach c's interface: the test cannot see the attack", at.dst)
		}
	}
}
