package firewall_test

import (
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

// TestFlushDeniedOnTightening tracks a connection between every ordered
// pair of the shop's containers on every port the destination serves, as
// if opened while no policy existed (everything allowed), in a private
// network namespace's conntrack table. Then the shop's policies arrive:
// FlushDenied must delete exactly the connections the new policies deny,
// and keep the others and the connections it does not judge (ICMP).
func TestFlushDeniedOnTightening(t *testing.T) {
	n := newNetns(t)
	ct, err := conntrack.Dial(&netlink.Config{NetNS: int(n.file.Fd())}) // #nosec G115 -- a file descriptor fits an int
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ct.Close() })

	tight := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	open := build(t, tight.inv, &manifest.Set{}) // no policy: everything allowed
	loose, strict := firewall.NewOracle(open.eng, open.inv, firewall.Options{}), firewall.NewOracle(tight.eng, tight.inv, firewall.Options{})
	notLocal := func(netip.Addr) bool { return false }

	type key struct {
		src, dst netip.Addr
		port     uint16
		proto    uint8
	}
	protos := map[portset.Protocol]uint8{portset.TCP: 6, portset.UDP: 17, portset.SCTP: 132}
	want := map[key]bool{}
	sport := uint16(40000)
	for _, s := range tight.inv.Containers {
		for _, d := range tight.inv.Containers {
			if s == d {
				continue
			}
			for _, si := range s.IPs {
				for _, di := range d.IPs {
					if si.Is4() != di.Is4() {
						continue
					}
					for _, p := range d.Ports {
						if !loose.Allows(firewall.Forward, si, di, p.Protocol, p.Port) {
							t.Fatalf("with no policy, %s -> %s %s/%d is denied", si, di, p.Protocol, p.Port)
						}
						sport++
						f := conntrack.NewFlow(protos[p.Protocol], conntrack.StatusConfirmed, si, di, sport, p.Port, 120, 0)
						if err := ct.Create(f); err != nil {
							t.Fatalf("create %s -> %s %s/%d: %v", si, di, p.Protocol, p.Port, err)
						}
						want[key{si, di, p.Port, protos[p.Protocol]}] = strict.Allows(firewall.Forward, si, di, p.Protocol, p.Port)
					}
				}
			}
		}
	}
	// Flows without ports between every pair of IPv4 addresses: ICMP
	// echoes and a raw IP protocol (253, for experiments), judged as the
	// ruleset judges other protocols.
	for i, s := range tight.inv.Containers {
		for j, d := range tight.inv.Containers {
			if s == d || !s.IPs[0].Is4() || !d.IPs[0].Is4() {
				continue
			}
			si, di := s.IPs[0], d.IPs[0]
			icmp := conntrack.NewFlow(1, conntrack.StatusConfirmed, si, di, 0, 0, 120, 0)
			icmp.TupleOrig.Proto.ICMPv4, icmp.TupleReply.Proto.ICMPv4 = true, true
			icmp.TupleOrig.Proto.ICMPType, icmp.TupleReply.Proto.ICMPType = 8, 0
			icmp.TupleOrig.Proto.ICMPID, icmp.TupleReply.Proto.ICMPID = uint16(100+i), uint16(100+i) // #nosec G115 -- a handful of containers
			if err := ct.Create(icmp); err != nil {
				t.Fatalf("create ICMP echo %s -> %s: %v", si, di, err)
			}
			allowed := strict.AllowsAnyProtocol(firewall.Forward, si, di)
			if !loose.AllowsAnyProtocol(firewall.Forward, si, di) {
				t.Fatalf("with no policy, %s -> %s is denied other protocols", si, di)
			}
			want[key{si, di, 0, 1}] = allowed
			if i < j { // a raw protocol's reply tuple is the reverse flow
				raw := conntrack.NewFlow(253, conntrack.StatusConfirmed, si, di, 0, 0, 120, 0)
				if err := ct.Create(raw); err != nil {
					t.Fatalf("create IP protocol 253 %s -> %s: %v", si, di, err)
				}
				want[key{si, di, 0, 253}] = allowed
			}
		}
	}
	denied := 0
	for _, ok := range want {
		if !ok {
			denied++
		}
	}
	if denied == 0 || denied == len(want) {
		t.Fatalf("%d of %d flows denied by the shop's policies: the test needs both kinds", denied, len(want))
	}
	otherDenied, otherKept := 0, 0
	for k, ok := range want {
		switch {
		case k.proto != 1 && k.proto != 253:
		case ok:
			otherKept++
		default:
			otherDenied++
		}
	}
	if otherDenied == 0 || otherKept == 0 {
		t.Fatalf("ICMP and protocol 253: %d flows denied, %d allowed: the test needs both kinds", otherDenied, otherKept)
	}

	got, err := firewall.FlushDenied(ct, strict, notLocal)
	if err != nil {
		t.Fatal(err)
	}
	if got != denied {
		t.Errorf("FlushDenied deleted %d flows, want %d", got, denied)
	}
	flows, err := ct.Dump(nil)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, f := range flows {
		k := key{f.TupleOrig.IP.SourceAddress, f.TupleOrig.IP.DestinationAddress, f.TupleOrig.Proto.DestinationPort, f.TupleOrig.Proto.Protocol}
		ok, known := want[k]
		switch {
		case !known:
			t.Errorf("unexpected flow %+v", k)
		case !ok:
			t.Errorf("denied flow %s -> %s :%d (proto %d) survived", k.src, k.dst, k.port, k.proto)
		}
		kept++
	}
	if kept != len(want)-denied {
		t.Errorf("%d flows kept, want %d", kept, len(want)-denied)
	}
	t.Logf("%d tracked flows, %d deleted on tightening, %d kept", len(want), got, kept)
	// Nothing left to delete: a second pass is a no-op.
	if again, err := firewall.FlushDenied(ct, strict, notLocal); err != nil || again != 0 {
		t.Errorf("second FlushDenied = %d, %v; want 0", again, err)
	}
}
