package firewall_test

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// model is an inventory with its engine.
type model struct {
	inv *firewall.Inventory
	set *manifest.Set
	eng *netpol.Engine
}

// load reads an inventory and policy paths (ward.yaml skipped, as the CLI
// does) and compiles the engine.
func load(t testing.TB, inventory string, policies ...string) *model {
	t.Helper()
	inv, err := firewall.LoadInventory(inventory)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := manifest.Load(manifest.Options{Skip: func(p string) bool { return filepath.Base(p) == "ward.yaml" }}, policies...)
	if err != nil {
		t.Fatal(err)
	}
	return build(t, inv, pol)
}

func build(t testing.TB, inv *firewall.Inventory, pol *manifest.Set) *model {
	t.Helper()
	set, err := inv.Set(pol)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return &model{inv: inv, set: set, eng: eng}
}

func compile(t testing.TB, m *model, opts firewall.Options) *firewall.Ruleset {
	t.Helper()
	rs, err := firewall.Compile(m.eng, m.inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestGolden compiles the example shop and the x/y/z scenario and compares
// the text with testdata/*.nft (go test -update rewrites them).
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name      string
		inventory string
		policies  []string
		opts      firewall.Options
	}{
		{"shop", "testdata/shop-inventory.yaml", []string{"../examples/shop"}, firewall.Options{}},
		{"xyz", "testdata/xyz-inventory.yaml", []string{"testdata/xyz-policies.yaml"}, firewall.Options{}},
		{"xyz-allow-unclassified", "testdata/xyz-inventory.yaml", []string{"testdata/xyz-policies.yaml"},
			firewall.Options{AllowUnclassified: true, LogRate: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := compile(t, load(t, tc.inventory, tc.policies...), tc.opts).String()
			golden := filepath.Join("testdata", tc.name+".nft")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden) // #nosec G304 -- a file of the test's own testdata
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("ruleset differs from %s (-want +got; go test -update rewrites it):\n%s", golden, diff)
			}
		})
	}
}

// TestLinearSize builds n namespaces of one container each, where every
// namespace admits every other (namespaceSelector: {}) on one port and
// isolates its egress to all of them: n² allowed class pairs. The ruleset
// must grow with classes, not pairs.
func TestLinearSize(t *testing.T) {
	stats := map[int]firewall.Stats{}
	for _, n := range []int{10, 40} {
		inv, pol := allToAll(t, n)
		m := build(t, inv, pol)
		if got := len(m.eng.Classes()); got < n {
			t.Fatalf("n=%d: %d classes, want at least %d", n, got, n)
		}
		pairs := 0
		m.eng.ClassConnections(func(_, _ *netpol.Class, _ portset.Set) bool { pairs++; return true })
		rs := compile(t, m, firewall.Options{})
		stats[n] = rs.Stats()
		t.Logf("n=%d: %d classes, %d allowed class pairs: %+v", n, len(m.eng.Classes()), pairs, rs.Stats())
	}
	small, large := stats[10], stats[40]
	if r := float64(large.Rules) / float64(small.Rules); r >= 5 {
		t.Errorf("rules grow %.1fx from 10 to 40 namespaces (%d to %d), want under 5x (linear)", r, small.Rules, large.Rules)
	}
	if r := float64(large.Elements) / float64(small.Elements); r >= 5 {
		t.Errorf("set elements grow %.1fx from 10 to 40 namespaces (%d to %d), want under 5x (linear)", r, small.Elements, large.Elements)
	}
}

// allToAll returns n namespaces n0..n(n-1), each with a container c at
// 10.1.<i/250>.<i%250+1> and a policy admitting every namespace on 80/TCP
// and allowing egress to every namespace on 80/TCP and 53/UDP.
func allToAll(t testing.TB, n int) (*firewall.Inventory, *manifest.Set) {
	t.Helper()
	var b strings.Builder
	b.WriteString("networks:\n  - {name: net, subnets: [10.1.0.0/16]}\ncontainers:\n")
	var objs []any
	p80, p53 := intstr.FromInt32(80), intstr.FromInt32(53)
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	all := metav1.LabelSelector{}
	for i := range n {
		ns := fmt.Sprintf("n%d", i)
		fmt.Fprintf(&b, "  - {name: c, namespace: %s, labels: {app: c}, ips: [10.1.%d.%d], ports: [{name: http, port: 80}]}\n", ns, i/250, i%250+1)
		objs = append(objs, &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "all"},
			Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &all}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: &p80, Protocol: &tcp}},
				}},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &all}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: &p80, Protocol: &tcp}, {Port: &p53, Protocol: &udp}},
				}},
			},
		})
	}
	inv, err := firewall.ParseInventory("all-to-all.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := manifest.FromObjects("default", objs...)
	if err != nil {
		t.Fatal(err)
	}
	return inv, pol
}

// TestBaseChains checks what the chains do before any policy: replies,
// invalid packets, IPv6 neighbour discovery, the host's loopback, and the
// unclassified window.
func TestBaseChains(t *testing.T) {
	m := load(t, "testdata/xyz-inventory.yaml", "testdata/xyz-policies.yaml")
	addr := netip.MustParseAddr
	const (
		xc   = "10.0.0.3" // x/c: ingress-isolated, admits nobody
		zc6  = "fd00:0:0:2::3"
		y1   = "fd00:0:0:1::1" // y/a: egress-isolated
		gone = "10.0.1.77"     // in network y, owned by no container
	)
	for _, tc := range []struct {
		name string
		opts firewall.Options
		p    packet
		want bool
		rule string
	}{
		{"new packet to an isolated container", firewall.Options{}, packet{hook: "forward", src: addr("10.0.2.2"), dst: addr(xc), proto: protoTCP, port: 80}, false, "in_c5[1]"},
		{"reply of an allowed connection", firewall.Options{}, packet{hook: "forward", ct: "established", src: addr("10.0.2.2"), dst: addr(xc), proto: protoTCP, port: 80}, true, "forward[10]"},
		{"related ICMP error", firewall.Options{}, packet{hook: "forward", ct: "related", src: addr("10.0.2.2"), dst: addr(xc), proto: protoICMP, quoted: addr("10.0.2.2")}, true, "forward[10]"},
		// An ICMP error is related to the connection it quotes, whoever
		// sends it: a container's quotes a packet to itself, a router's
		// (the host's, an outside one) a packet to someone else. A
		// container's error about another pair's connection is forged.
		// A redirect's one legitimate sender is the receiver's first-hop
		// router, the host, whose redirects cross no forward hook: one
		// forged from the gateway's address is related to the connection
		// it quotes (TestForgedRedirect), with or without the bindings.
		{"forged ICMP redirect", firewall.Options{}, packet{hook: "forward", ct: "related", src: addr("10.0.0.254"), dst: addr(xc), proto: protoICMP, icmpType: "redirect", quoted: addr("192.0.2.9")}, false, "forward[0]"},
		{"forged ICMP redirect, --no-bind", firewall.Options{NoBind: true}, packet{hook: "forward", ct: "related", src: addr("10.0.0.254"), dst: addr(xc), proto: protoICMP, icmpType: "redirect", quoted: addr("192.0.2.9")}, false, "forward[0]"},
		{"forged ICMPv6 redirect", firewall.Options{}, packet{hook: "forward", src: addr("fe80::1"), dst: addr(zc6), proto: protoICMPv6, icmpv6Type: "nd-redirect"}, false, "forward[1]"},
		{"forged ICMP error from a container", firewall.Options{}, packet{hook: "forward", ct: "related", src: addr("10.0.2.2"), dst: addr(xc), proto: protoICMP, quoted: addr("10.0.1.1")}, false, "icmp_err_v4_0[7]"},
		{"forged ICMPv6 error from a container", firewall.Options{}, packet{hook: "forward", ct: "related", src: addr(y1), dst: addr(zc6), proto: protoICMPv6, quoted: addr("fd00::1")}, false, "icmp_err_v6_0[3]"},
		{"forged ICMP error from a container to the host", firewall.Options{}, packet{hook: "input", iif: "br0", ct: "related", src: addr("10.0.2.2"), dst: addr("10.0.1.254"), proto: protoICMP, quoted: addr("10.0.0.1")}, false, "icmp_err_v4_0[7]"},
		{"ICMP error from a router", firewall.Options{}, packet{hook: "forward", ct: "related", src: addr("10.0.0.254"), dst: addr(xc), proto: protoICMP, quoted: addr("192.0.2.9")}, true, "forward[10]"},
		// No router lies between two containers but the host
		// (TestExternalICMPError).
		{"ICMP error from outside about a container's connection", firewall.Options{}, packet{hook: "forward", ct: "related", src: addr("192.0.2.9"), dst: addr(xc), proto: protoICMP, quoted: addr("10.0.1.1")}, false, "forward[5]"},
		{"ICMPv6 error from outside", firewall.Options{}, packet{hook: "forward", ct: "related", src: addr("2001:db8::1"), dst: addr(zc6), proto: protoICMPv6, quoted: addr("2001:db8::9")}, true, "forward[10]"},
		{"ICMPv6 error from a container about its own connection", firewall.Options{}, packet{hook: "forward", ct: "related", src: addr(y1), dst: addr(zc6), proto: protoICMPv6, quoted: addr(y1)}, true, "forward[10]"},
		{"invalid packet", firewall.Options{}, packet{hook: "forward", ct: "invalid", src: addr("10.0.1.1"), dst: addr("10.0.0.1"), proto: protoTCP, port: 80}, false, "forward[11]"},
		{"neighbour solicitation from an egress-isolated container", firewall.Options{}, packet{hook: "forward", src: addr(y1), dst: addr("ff02::1:ff00:3"), proto: protoICMPv6, icmpv6Type: "nd-neighbor-solicit"}, true, "forward[16]"},
		{"MLD report from an egress-isolated container", firewall.Options{}, packet{hook: "forward", src: addr(y1), dst: addr("ff02::16"), proto: protoICMPv6, icmpv6Type: "mld2-listener-report"}, true, "forward[17]"},
		// Routed, a discovery message has lost its link-local hop limit
		// (TestExternalNDTypes): the ingress judges it.
		{"routed neighbour solicitation from outside", firewall.Options{}, packet{hook: "forward", hopLimit: 254, src: addr("2001:db8::1"), dst: addr(zc6), proto: protoICMPv6, icmpv6Type: "nd-neighbor-solicit"}, false, "in_c17[3]"},
		{"routed MLD report from outside", firewall.Options{}, packet{hook: "forward", hopLimit: 63, src: addr("2001:db8::1"), dst: addr(zc6), proto: protoICMPv6, icmpv6Type: "mld2-listener-report"}, false, "in_c17[3]"},
		// A segment that cannot open a connection, such as one of a
		// connection FlushDenied ended, is not picked up again, whichever
		// way the policies allow (nf_conntrack_tcp_loose).
		{"mid-stream segment between containers", firewall.Options{}, packet{hook: "forward", noSYN: true, src: addr("10.0.2.2"), dst: addr(xc), proto: protoTCP, port: 80}, false, "forward[12]"},
		{"mid-stream segment from outside to a container", firewall.Options{}, packet{hook: "forward", noSYN: true, src: addr("192.0.2.9"), dst: addr("10.0.0.1"), proto: protoTCP, port: 80}, false, "forward[13]"},
		{"mid-stream segment between external addresses", firewall.Options{}, packet{hook: "forward", noSYN: true, src: addr("192.0.2.9"), dst: addr("8.8.8.8"), proto: protoTCP, port: 443}, true, "policy"},
		{"mid-stream segment from a container to the host", firewall.Options{}, packet{hook: "input", iif: "br0", noSYN: true, src: addr("10.0.2.2"), dst: addr("10.0.1.254"), proto: protoTCP, port: 22}, false, "input[10]"},
		{"invalid packet from a container to the host", firewall.Options{}, packet{hook: "input", iif: "br0", ct: "invalid", src: addr("10.0.2.2"), dst: addr("10.0.1.254"), proto: protoICMP}, false, "input[9]"},
		// Docker DNATs the host's connections to its own address's
		// published ports in nat output; they still leave through lo.
		{"host to a published port through its own address", firewall.Options{}, packet{hook: "output", oif: "lo", dnat: true, src: addr("10.0.0.254"), dst: addr(xc), proto: protoTCP, port: 80}, false, "in_c5[1]"},
		{"host to itself over loopback, outgoing", firewall.Options{}, packet{hook: "output", oif: "lo", src: addr("10.0.1.254"), dst: addr("10.0.1.254"), proto: protoTCP, port: 22}, true, "output[9]"},
		// The host sends from its own addresses; from a container's, a
		// raw IP socket forges (lab.TestHostNamespaceInjection), even in
		// that container's tracked flow.
		{"host forging a container's address", firewall.Options{}, packet{hook: "output", oif: "br0", foreign: true, src: addr("10.0.2.2"), dst: addr("10.0.1.1"), proto: protoUDP, port: 53}, false, "output[0]"},
		{"host forging a container's established flow", firewall.Options{}, packet{hook: "output", oif: "br0", foreign: true, ct: "established", src: addr("10.0.2.2"), dst: addr("10.0.1.1"), proto: protoUDP, port: 53}, false, "output[0]"},
		{"host forging a container's IPv6 address", firewall.Options{}, packet{hook: "output", oif: "br0", foreign: true, src: addr(y1), dst: addr(zc6), proto: protoUDP, port: 53}, false, "output[1]"},
		{"echo request from an egress-isolated container", firewall.Options{}, packet{hook: "forward", src: addr(y1), dst: addr(zc6), proto: protoICMPv6, icmpv6Type: "echo-request"}, false, "eg_c9[5]"},
		{"host to itself over loopback", firewall.Options{}, packet{hook: "input", iif: "lo", src: addr("10.0.1.254"), dst: addr("10.0.1.254"), proto: protoTCP, port: 22}, true, "input[13]"},
		{"host to an isolated container", firewall.Options{}, packet{hook: "output", oif: "br0", src: addr("10.0.0.254"), dst: addr(xc), proto: protoTCP, port: 80}, false, "in_c5[1]"},
		{"internet to the host", firewall.Options{}, packet{hook: "input", iif: "eth0", src: addr("192.0.2.9"), dst: addr("198.51.100.7"), proto: protoTCP, port: 22}, true, "policy"},
		{"between two external addresses", firewall.Options{}, packet{hook: "forward", src: addr("192.0.2.9"), dst: addr("8.8.8.8"), proto: protoUDP, port: 53}, true, "policy"},
		{"unclassified source", firewall.Options{}, packet{hook: "forward", src: addr(gone), dst: addr("10.0.0.1"), proto: protoTCP, port: 80}, false, "unclassified[1]"},
		{"unclassified destination", firewall.Options{}, packet{hook: "forward", src: addr("192.0.2.9"), dst: addr(gone), proto: protoTCP, port: 80}, false, "unclassified[1]"},
		{"unclassified source to the host", firewall.Options{}, packet{hook: "input", iif: "br0", src: addr(gone), dst: addr("10.0.1.254"), proto: protoUDP, port: 53}, false, "unclassified[1]"},
		{"window open: unclassified to an open container", firewall.Options{AllowUnclassified: true}, packet{hook: "forward", src: addr(gone), dst: addr("10.0.1.1"), proto: protoTCP, port: 80}, true, "policy"},
		{"window open: an isolated container still refuses it", firewall.Options{AllowUnclassified: true}, packet{hook: "forward", src: addr(gone), dst: addr("10.0.0.1"), proto: protoTCP, port: 80}, false, "in_c1[3]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := newInterp(compile(t, m, tc.opts)).run(tc.p)
			if res.accept != tc.want || res.by != tc.rule {
				t.Errorf("%s: %s by %s (path %v), want %s by %s", tc.p, verdict(res.accept), res.by, res.trace, verdict(tc.want), tc.rule)
			}
		})
	}
}

func TestLogRate(t *testing.T) {
	m := load(t, "testdata/xyz-inventory.yaml", "testdata/xyz-policies.yaml")
	for _, tc := range []struct {
		rate int
		want string // the first rule of chain in_c5
	}{
		{0, `limit rate 10/second burst 10 packets log prefix "ward-drop ingress c5 "`},
		{3, `limit rate 3/second log prefix "ward-drop ingress c5 "`},
		{-1, "counter drop"},
	} {
		rs := compile(t, m, firewall.Options{LogRate: tc.rate})
		if got := rs.Chain("in_c5").Rules[0].String(); got != tc.want {
			t.Errorf("LogRate %d: in_c5 starts with %q, want %q", tc.rate, got, tc.want)
		}
	}
}

// TestSharedAddress checks that Compile refuses a model where two
// workloads claim one address (possible in manifests, not in inventories).
func TestSharedAddress(t *testing.T) {
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
			Status:     corev1.PodStatus{PodIP: "10.0.0.5"},
		}
	}
	set, err := manifest.FromObjects("x", pod("a"), pod("b"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := firewall.Compile(eng, nil, firewall.Options{}); err == nil {
		t.Fatalf("Compile = %v, want an error", rs)
	}
}

// TestSubtractLarge checks the unclassified ranges of a /16 with thousands
// of containers, against ipset's own subtraction.
func TestSubtractLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString("networks: [{name: n, subnets: [10.2.0.0/16]}]\ncontainers:\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "  - {name: c%d, ips: [10.2.%d.%d]}\n", i, i/200, (i*7)%200+1)
	}
	inv, err := firewall.ParseInventory("large.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	m := build(t, inv, nil)
	rs := compile(t, m, firewall.Options{})
	checkStructure(t, rs)
	var got []ipset.Range
	for _, e := range rs.Map("egress_v4").Elements {
		got = append(got, e.Range)
	}
	var owned []ipset.Range
	for _, c := range inv.Containers {
		owned = append(owned, ipset.Range{From: c.IPs[0], To: c.IPs[0]})
	}
	want := ipset.Of(ipset.FromPrefix(netip.MustParsePrefix("10.2.0.0/16"))).Subtract(ipset.Of(owned...)).Ranges()
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("unclassified ranges (-want +got):\n%s", diff)
	}
}

// BenchmarkCompile compiles the all-to-all model of 2000 namespaces (one
// container and one policy each: 4 million allowed class pairs).
func BenchmarkCompile(b *testing.B) {
	inv, pol := allToAll(b, 2000)
	m := build(b, inv, pol)
	b.ResetTimer()
	for b.Loop() {
		if _, err := firewall.Compile(m.eng, m.inv, firewall.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	rs := compile(b, m, firewall.Options{})
	b.ReportMetric(float64(rs.Stats().Rules), "rules")
	b.ReportMetric(float64(rs.Stats().Elements), "elements")
}

func TestCompileRejectsLogGroup(t *testing.T) {
	m := load(t, "testdata/xyz-inventory.yaml", "testdata/xyz-policies.yaml")
	for _, g := range []int{-1, 65536} {
		if _, err := firewall.Compile(m.eng, m.inv, firewall.Options{LogGroup: g}); err == nil {
			t.Errorf("log group %d accepted", g)
		}
	}
}
