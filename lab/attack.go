package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// The kinds of attack frames.
const (
	// AttackBroadcast: a UDP datagram to 255.255.255.255 (Ethernet
	// broadcast), from the sender's own address.
	AttackBroadcast = "broadcast"
	// AttackMulticast: a UDP datagram to 224.0.0.251 or ff02::1 (their
	// group MAC addresses), from the sender's own address.
	AttackMulticast = "multicast"
	// AttackBroadcastToMAC: a UDP datagram to 255.255.255.255 in a
	// frame to the destination's own MAC address (the bridge forwards it
	// to that port alone, as unicast).
	AttackBroadcastToMAC = "broadcast-to-mac"
	// AttackVLAN0: a unicast datagram to the destination with a priority
	// tag (IEEE 802.1Q, VLAN 0), which the destination's stack accepts as
	// untagged.
	AttackVLAN0 = "vlan0"
	// AttackVLAN: the same with VLAN 100.
	AttackVLAN = "vlan"
	// AttackLinkLocal: a datagram between the two hosts' link-local IPv6
	// addresses (fe80::/10), which no policy names.
	AttackLinkLocal = "link-local"
	// AttackSpoof: a datagram to the destination whose source is a third
	// host's address.
	AttackSpoof = "spoof"
)

// attackVLAN is the VLAN id of AttackVLAN frames.
const attackVLAN = 100

// Attack is one frame of the adversarial suite: what it is and whether the
// engine says it may arrive. Expect comes from the engine through
// firewall.Oracle (for broadcast and multicast, AllowsGroup: the
// sender's egress to the group address and the destination's ingress from
// the sender); the other kinds never may.
type Attack struct {
	Kind   string
	Frame  Frame // for AttackLinkLocal, Src and Dst are found when it runs
	Expect bool
}

func (a *Attack) String() string {
	return fmt.Sprintf("%s %s -> %s: %s", a.Kind, a.Frame.From.ID, a.Frame.To.ID, a.Frame)
}

// AttackOutcome is an attack frame and what happened to it.
type AttackOutcome struct {
	Attack
	Delivered bool
	// Err says why the frame could not be sent or watched for.
	Err string
	// Retried: the first attempt disagreed with the engine, and a second,
	// longer one decided.
	Retried bool
}

// Status compares what happened with the engine's verdict.
func (o *AttackOutcome) Status() Status {
	switch {
	case o.Err != "":
		return Mismatch
	case o.Delivered == o.Expect:
		return Match
	}
	return Mismatch
}

// Attacks lists the adversarial frames of p: for every ordered pair of
// different hosts and every family both have (the destination's first
// declared port, or 9 when it declares none), a broadcast (IPv4; also in
// a frame to the destination's own MAC address), a multicast, a priority-tagged and a VLAN-tagged unicast, and a spoofed
// unicast from a third host's address; and for every ordered pair, a
// datagram between their link-local addresses.
func (p *Plan) Attacks() []Attack {
	o := firewall.NewOracle(p.Engine, p.Inventory, firewall.Options{})
	var out []Attack
	groups := map[firewall.Family][]struct {
		kind string
		addr netip.Addr
	}{
		firewall.IPv4: {{AttackBroadcast, netip.MustParseAddr("255.255.255.255")}, {AttackMulticast, netip.MustParseAddr("224.0.0.251")}},
		firewall.IPv6: {{AttackMulticast, netip.MustParseAddr("ff02::1")}},
	}
	for _, s := range p.Hosts {
		for _, d := range p.Hosts {
			if s == d {
				continue
			}
			port := uint16(9)
			if len(d.Ports) > 0 {
				port = d.Ports[0]
			}
			for _, f := range firewall.Families {
				sa, ok1 := firstOf(s.Addrs, f)
				da, ok2 := firstOf(d.Addrs, f)
				if !ok1 || !ok2 {
					continue
				}
				for _, g := range groups[f] {
					expect := o.AllowsGroup(sa, g.addr, da, portset.UDP, port)
					out = append(out, Attack{Kind: g.kind, Frame: Frame{From: s, Src: sa, To: d, Dst: g.addr, Port: port}, Expect: expect})
					if g.kind == AttackBroadcast {
						out = append(out, Attack{Kind: AttackBroadcastToMAC, Frame: Frame{From: s, Src: sa, To: d, Dst: g.addr, Port: port, ToMAC: true}, Expect: expect})
					}
				}
				out = append(out,
					Attack{Kind: AttackVLAN0, Frame: Frame{From: s, Src: sa, To: d, Dst: da, Port: port, Tagged: true}},
					Attack{Kind: AttackVLAN, Frame: Frame{From: s, Src: sa, To: d, Dst: da, Port: port, Tagged: true, VLAN: attackVLAN}})
				for _, t := range p.Hosts {
					if ta, ok := firstOf(t.Addrs, f); ok && t != s && t != d {
						out = append(out, Attack{Kind: AttackSpoof, Frame: Frame{From: s, Src: ta, To: d, Dst: da, Port: port}})
						break
					}
				}
			}
			out = append(out, Attack{Kind: AttackLinkLocal, Frame: Frame{From: s, To: d, Port: port}})
		}
	}
	return out
}

func firstOf(addrs []netip.Addr, f firewall.Family) (netip.Addr, bool) {
	for _, a := range addrs {
		if family(a) == f {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// Attack sends the attack frames, at most Options.Parallel at a time,
// and returns what happened to each, in order. A frame whose fate
// disagrees with the engine is sent again, waiting longer, and the second
// attempt decides.
func (l *Lab) Attack(ctx context.Context, attacks []Attack) ([]AttackOutcome, error) {
	l.progress("lab: %s: sending %d attack frames (broadcast, multicast, VLAN-tagged, link-local, spoofed), %d at a time", l.name, len(attacks), l.opts.parallel())
	outs := make([]AttackOutcome, len(attacks))
	for i := range attacks {
		outs[i].Attack = attacks[i]
	}
	err := l.forEach(ctx, len(outs), nil, func(i int) {
		o := &outs[i]
		l.attack(ctx, o, l.opts)
		if o.Status() == Mismatch && o.Err == "" && ctx.Err() == nil {
			o.Retried = true
			slow := l.opts
			slow.Timeout = confirmFactor * l.opts.timeout()
			l.attack(ctx, o, slow)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("lab: attacking: %w", err)
	}
	return outs, nil
}

func (l *Lab) attack(ctx context.Context, o *AttackOutcome, opts Options) {
	f := o.Frame
	if o.Kind == AttackLinkLocal {
		var err error
		if f.Src, err = l.linkLocal(f.From); err == nil {
			f.Dst, err = l.linkLocal(f.To)
		}
		if err != nil {
			o.Err = err.Error()
			return
		}
		o.Frame = f
	}
	delivered, err := l.send(ctx, f, opts.timeout())
	if err != nil {
		o.Err = err.Error()
		return
	}
	o.Delivered = delivered
}

// linkLocal returns h's link-local IPv6 address on eth0.
func (l *Lab) linkLocal(h *Host) (netip.Addr, error) {
	var out netip.Addr
	err := l.hosts[h.ID].worker.do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
				out = p.Addr()
				return nil
			}
		}
		return fmt.Errorf("eth0 has no link-local IPv6 address")
	})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("lab: %s: %w", h.ID, err)
	}
	return out, nil
}

// AttackCounts summarizes attack outcomes.
type AttackCounts struct {
	Total      int `json:"total"`
	Matched    int `json:"matched"`
	Mismatched int `json:"mismatched"`
	// Delivered counts frames that arrived, as the engine allowed or not.
	Delivered int `json:"delivered"`
}

// CountAttacks counts outs.
func CountAttacks(outs []AttackOutcome) AttackCounts {
	var c AttackCounts
	for i := range outs {
		c.Total++
		if outs[i].Delivered {
			c.Delivered++
		}
		if outs[i].Status() == Match {
			c.Matched++
		} else {
			c.Mismatched++
		}
	}
	return c
}

// AttackMismatches returns the outcomes that disagree with the engine.
func AttackMismatches(outs []AttackOutcome) []AttackOutcome {
	var out []AttackOutcome
	for _, o := range outs {
		if o.Status() == Mismatch {
			out = append(out, o)
		}
	}
	return slices.Clip(out)
}
