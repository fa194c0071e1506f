package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/lab"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// throughput measures TCP throughput with iperf3 between two lab hosts
// holding the addresses of two containers of inv that the policies let
// talk, both isolated (so that their packets take the vmap jumps into
// class chains), with rs loaded in the lab's router and with an empty
// table, in interleaved runs, and prints the medians and their ratio.
func throughput(inv *firewall.Inventory, eng *netpol.Engine, rs *firewall.Ruleset, runs int) error {
	if _, err := exec.LookPath("iperf3"); err != nil {
		return errors.New("iperf3 is not installed")
	}
	client, server, port, err := isolatedPair(inv, eng, rs)
	if err != nil {
		return err
	}
	// The hosts' eth0 MAC addresses, known, for the bindings with MAC
	// addresses (lab.Start gives eth0 its container's first).
	cc, sc := *client, *server
	cc.MACs, sc.MACs = []net.HardwareAddr{lab.HostMAC(0)}, []net.HardwareAddr{lab.HostMAC(1)}
	hosts := []*lab.Host{
		{ID: client.ID(), Container: &cc, Addrs: []netip.Addr{client.IPs[0]}},
		{ID: server.ID(), Container: &sc, Addrs: []netip.Addr{server.IPs[0]}},
	}
	ctx := context.Background()
	l, err := lab.Start(ctx, hosts, lab.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = l.Close() }()
	fmt.Fprintf(os.Stderr, "fwbench: iperf3 %s (%s) -> %s (%s) tcp/%d, %d runs each\n", client.ID(), client.IPs[0], server.ID(), server.IPs[0], port, runs)
	// Three loads, interleaved: an empty table; the ruleset; the ruleset
	// with every container's addresses bound to a bridge port (the two
	// lab hosts' real ports h0 and h1, made-up ports for the others), so
	// that every frame also takes the bridge table's lookup.
	bound := *rs
	bound.Bindings = nil
	for i, c := range inv.Containers {
		port := fmt.Sprintf("p%d", i)
		switch c {
		case client:
			port = "h0"
		case server:
			port = "h1"
		}
		if len(c.IPs) > 0 {
			bound.Bindings = append(bound.Bindings, firewall.Binding{Port: port, Addrs: c.IPs, Mark: firewall.GroupMark})
		}
	}
	slices.SortFunc(bound.Bindings, func(a, b firewall.Binding) int { return strings.Compare(a.Port, b.Port) })
	// The same bindings with each port's MAC address (the lab hosts'
	// eth0's, made-up ones for the others): every frame also takes the
	// Ethernet source lookups (firewall.Binding.MACs).
	withMACs := bound
	withMACs.Bindings = slices.Clone(bound.Bindings)
	for i := range withMACs.Bindings {
		b := &withMACs.Bindings[i]
		switch b.Port {
		case "h0":
			b.MACs = []net.HardwareAddr{lab.HostMAC(0)}
		case "h1":
			b.MACs = []net.HardwareAddr{lab.HostMAC(1)}
		default:
			b.MACs = []net.HardwareAddr{{0x02, 0x42, 0, byte(i >> 16), byte(i >> 8), byte(i)}} // #nosec G115 -- the bytes of a made-up address, by design
		}
	}
	// The same bindings compiled with the lab's bridge named as the
	// networks' (firewall.Ruleset.Bridges): every frame is marked, the
	// bridge's forward chain and the inet table's prerouting chain check
	// the mark.
	closedInv := *inv
	closedInv.Containers, closedInv.Networks = nil, nil
	for _, c := range inv.Containers {
		cc := *c
		cc.Interfaces = nil
		if i := slices.IndexFunc(bound.Bindings, func(b firewall.Binding) bool { return slices.Equal(b.Addrs, c.IPs) && len(c.IPs) > 0 }); i >= 0 {
			cc.Interfaces = []string{bound.Bindings[i].Port}
		}
		closedInv.Containers = append(closedInv.Containers, &cc)
	}
	for _, n := range inv.Networks {
		nn := *n
		nn.Bridge = lab.BridgeName
		closedInv.Networks = append(closedInv.Networks, &nn)
	}
	closed, err := firewall.Compile(eng, &closedInv, firewall.Options{})
	if err != nil {
		return err
	}
	if len(closed.Bridges) == 0 {
		return errors.New("the ruleset with the lab's bridge named closes no bridge")
	}
	// A stateful host's floor: only "ct state established,related
	// accept", which turns connection tracking on, as Docker's own rules
	// do on every Docker host.
	ctOnly := &firewall.Ruleset{Chains: []*firewall.Chain{{Name: "forward", Hook: "forward", Priority: -10,
		Rules: []firewall.Rule{{CtState: []string{"established", "related"}, Verdict: firewall.Verdict{Kind: firewall.Accept}}}}}}
	loads := []*firewall.Ruleset{{}, rs, &bound, ctOnly, closed, &withMACs}
	results := make([][]float64, len(loads))
	for i := range runs {
		for k := range loads {
			k = (k + i) % len(loads)
			if err := l.Load(loads[k]); err != nil {
				return err
			}
			bps, err := iperf(l.Name()+"-h0", l.Name()+"-h1", server.IPs[0], port)
			if err != nil {
				return err
			}
			results[k] = append(results[k], bps)
		}
	}
	mo, mw, mb, mc, mx, mm := median(results[0]), median(results[1]), median(results[2]), median(results[3]), median(results[4]), median(results[5])
	fmt.Printf("\niperf3 TCP, %d interleaved runs each (medians): no ruleset %.2f Gbit/s; conntrack only %.2f (%.3fx); %d-container ruleset %.2f (%.3fx, %.3fx of conntrack only); with its %d bridge bindings too %.2f (%.3fx, %.3fx of conntrack only); with the bridge closed too %.2f (%.3fx, %.3fx of the bindings alone); the bindings with MAC addresses %.2f (%.3fx, %.3fx of the bindings alone)\n",
		runs, mo/1e9, mc/1e9, mc/mo, len(inv.Containers), mw/1e9, mw/mo, mw/mc, len(bound.Bindings), mb/1e9, mb/mo, mb/mc, mx/1e9, mx/mo, mx/mb, mm/1e9, mm/mo, mm/mb)
	return nil
}

// isolatedPair finds a client, a server and a TCP port the engine allows
// between them, the client's address having an egress chain and the
// server's an ingress chain.
func isolatedPair(inv *firewall.Inventory, eng *netpol.Engine, rs *firewall.Ruleset) (*firewall.Container, *firewall.Container, uint16, error) {
	jumps := func(m string, a netip.Addr) bool {
		mm := rs.Map(m)
		if mm == nil {
			return false
		}
		for _, e := range mm.Elements {
			if !a.Less(e.Range.From) && !e.Range.To.Less(a) {
				return e.Verdict.Kind == firewall.Jump && e.Verdict.Chain != firewall.ChainUnclassified
			}
		}
		return false
	}
	o := firewall.NewOracle(eng, inv, firewall.Options{})
	var clients []*firewall.Container // egress-isolated, with an IPv4 address
	for _, c := range inv.Containers {
		if len(c.IPs) > 0 && c.IPs[0].Is4() && jumps("egress_v4", c.IPs[0]) {
			clients = append(clients, c)
		}
	}
	for _, s := range inv.Containers {
		if len(s.IPs) == 0 || !s.IPs[0].Is4() || !jumps("ingress_v4", s.IPs[0]) {
			continue
		}
		for _, p := range s.Ports {
			if p.Protocol != portset.TCP {
				continue
			}
			for _, c := range clients {
				if c != s && o.Allows(firewall.Forward, c.IPs[0], s.IPs[0], portset.TCP, p.Port) {
					return c, s, p.Port, nil
				}
			}
		}
	}
	return nil, nil, 0, errors.New("no isolated pair of containers talks over TCP")
}

// iperf runs an iperf3 server in namespace srvNS and a 3-second client in
// cliNS, and returns the bits per second the server received.
func iperf(cliNS, srvNS string, addr netip.Addr, port uint16) (float64, error) {
	p := strconv.Itoa(int(port))
	srv := exec.Command("ip", "netns", "exec", srvNS, "iperf3", "-s", "-1", "-B", addr.String(), "-p", p) // #nosec G204 -- fixed programs, the benchmark's own namespaces
	if err := srv.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	var out []byte
	var err error
	for try := 0; try < 50; try++ {
		time.Sleep(100 * time.Millisecond)
		out, err = exec.Command("ip", "netns", "exec", cliNS, "iperf3", "-c", addr.String(), "-p", p, "-t", "3", "-J").Output() // #nosec G204 -- fixed programs, the benchmark's own namespaces
		if err == nil {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("client: %w: %s", err, out)
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return 0, fmt.Errorf("client output: %w", err)
	}
	return res.End.SumReceived.BitsPerSecond, nil
}
