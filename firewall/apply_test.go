package firewall_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/portset"
)

// netns is a private network namespace, held open by a file.
type netns struct {
	file *os.File
	conn *nftables.Conn
}

// newNetns creates a network namespace of the test's own, so that the
// host's ruleset is never touched, and an nftables connection into it.
// The namespace lives as long as the test.
func newNetns(t *testing.T) *netns {
	t.Helper()
	testenv.RequireCommand(t, "nsenter")
	f := testenv.NewNetns(t)
	conn, err := firewall.NewConn(nftables.WithNetNSFd(int(f.Fd()))) // #nosec G115 -- a file descriptor fits an int
	if err != nil {
		t.Fatal(err)
	}
	return &netns{file: f, conn: conn}
}

// nft runs nft with args inside the namespace.
func (n *netns) nft(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("nsenter", append([]string{"--net=/proc/self/fd/3", "nft"}, args...)...) // #nosec G204 -- fixed programs, the test's own arguments
	cmd.ExtraFiles = []*os.File{n.file}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// listing is how nft lists Ward's tables in the namespace (testenv.WardListing).
func (n *netns) listing(t *testing.T) string {
	t.Helper()
	return testenv.WardListing(func(args ...string) string { return n.nft(t, args...) })
}

func (n *netns) hasTable(t *testing.T) bool {
	t.Helper()
	return strings.Contains(n.nft(t, "list", "tables"), "table inet ward")
}

func shop(t *testing.T) *firewall.Ruleset {
	t.Helper()
	return compile(t, load(t, "testdata/shop-inventory.yaml", "../examples/shop"), firewall.Options{})
}

// TestApply applies the shop's ruleset through netlink in a namespace of
// its own and checks that nft lists exactly the ruleset's text: the
// netlink translation says what the text says. It applies it again
// (idempotent), checks Status, and removes it without a trace.
func TestApply(t *testing.T) {
	n := newNetns(t)
	rs := shop(t)
	want := rs.String()

	present, _, err := firewall.Status(n.conn)
	if err != nil || present {
		t.Fatalf("Status before Apply = %v, %v; want absent", present, err)
	}
	if err := firewall.Remove(n.conn); err != nil {
		t.Fatalf("Remove of an absent table: %v", err)
	}
	for i := range 2 {
		if err := firewall.Apply(n.conn, rs); err != nil {
			t.Fatalf("Apply #%d: %v", i+1, err)
		}
		if diff := cmp.Diff(want, n.listing(t)); diff != "" {
			t.Fatalf("after Apply #%d, nft list differs from Ruleset.String (-want +got):\n%s", i+1, diff)
		}
	}
	// The same ports without address bindings (--no-bind): the bridge
	// table's forward chain and port marks alone, listed as compiled and
	// read back without a difference.
	unbound := compile(t, load(t, "testdata/shop-inventory.yaml", "../examples/shop"), firewall.Options{NoBind: true})
	if err := firewall.Apply(n.conn, unbound); err != nil {
		t.Fatalf("Apply of the unbound ruleset: %v", err)
	}
	if diff := cmp.Diff(unbound.String(), n.listing(t)); diff != "" {
		t.Fatalf("unbound: nft list differs from Ruleset.String (-want +got):\n%s", diff)
	}
	if err := firewall.Verify(n.conn, unbound); err != nil {
		t.Errorf("Verify of the unbound ruleset: %v", err)
	}
	// No port known, the bridges named (an inventory without
	// interfaces): no bridge table; chain output sends the host's group
	// and link-local packets on the bridges to chain host_group.
	noPorts := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	for _, c := range noPorts.inv.Containers {
		c.Interfaces, c.MACs = nil, nil
	}
	portless := compile(t, noPorts, firewall.Options{})
	if len(portless.Bindings) != 0 || !strings.Contains(portless.String(), "jump "+firewall.ChainHostGroup) {
		t.Fatalf("no ports known: %d bindings, ruleset without jumps to %s:\n%s", len(portless.Bindings), firewall.ChainHostGroup, portless)
	}
	if err := firewall.Apply(n.conn, portless); err != nil {
		t.Fatalf("Apply of the ruleset without ports: %v", err)
	}
	if diff := cmp.Diff(portless.String(), n.listing(t)); diff != "" {
		t.Fatalf("no ports known: nft list differs from Ruleset.String (-want +got):\n%s", diff)
	}
	if err := firewall.Verify(n.conn, portless); err != nil {
		t.Errorf("Verify of the ruleset without ports: %v", err)
	}
	if err := firewall.Apply(n.conn, rs); err != nil {
		t.Fatal(err)
	}
	present, st, err := firewall.Status(n.conn)
	if err != nil || !present {
		t.Fatalf("Status after Apply = %v, %v; want present", present, err)
	}
	if st.Stats != rs.Stats() {
		t.Errorf("Status stats = %+v, want %+v", st.Stats, rs.Stats())
	}
	// Apply deletes its swap table once Ward's is replaced; Remove
	// deletes one that an Apply killed half-way left.
	if tables := n.nft(t, "list", "tables"); strings.Contains(tables, firewall.SwapTableName) {
		t.Errorf("swap table left after Apply:\n%s", tables)
	}
	n.nft(t, "add", "table", "inet", firewall.SwapTableName)
	if err := firewall.Remove(n.conn); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if n.hasTable(t) {
		t.Errorf("table inet ward still listed after Remove:\n%s", n.nft(t, "list", "ruleset"))
	}
	if out := n.nft(t, "list", "ruleset"); out != "" {
		t.Errorf("ruleset not empty after Remove:\n%s", out)
	}
	if present, _, err := firewall.Status(n.conn); err != nil || present {
		t.Errorf("Status after Remove = %v, %v; want absent", present, err)
	}
}

// TestApplyUnknownPorts loads the shop's ruleset with two bridge ports no
// container is bound to (Inventory.UnknownPorts): nft lists exactly the
// ruleset's text, in which each is a port bound to no address, jumping to
// nd_none, with no mark; Verify agrees; and the difference from the shop
// without them is those ports.
func TestApplyUnknownPorts(t *testing.T) {
	n := newNetns(t)
	m := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	m.inv.UnknownPorts = []string{"veth0b93f4c", "veth7d1e0a2"}
	rs := compile(t, m, firewall.Options{})
	text := rs.String()
	for _, want := range []string{`"veth0b93f4c" : jump nd_none`, `"veth7d1e0a2" : jump nd_none`} {
		if !strings.Contains(text, want) {
			t.Errorf("ruleset text lacks %q:\n%s", want, rs.BridgeString())
		}
	}
	if strings.Contains(text, `"veth0b93f4c" : jump mark_`) || strings.Contains(text, `"veth0b93f4c" . `) {
		t.Errorf("an unknown port has a mark or an address:\n%s", rs.BridgeString())
	}
	if err := firewall.Apply(n.conn, rs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(text, n.listing(t)); diff != "" {
		t.Fatalf("nft list differs from Ruleset.String (-want +got):\n%s", diff)
	}
	if err := firewall.Verify(n.conn, rs); err != nil {
		t.Errorf("Verify: %v", err)
	}
	m.inv.UnknownPorts = nil
	changes := firewall.Changes(compile(t, m, firewall.Options{}), rs)
	want := []string{`+ set ports element "veth0b93f4c"`, `+ set ports element "veth7d1e0a2"`}
	for _, w := range want {
		if !slices.Contains(changes, w) {
			t.Errorf("Changes without and with the unknown ports: %q, want %q among them", changes, w)
		}
	}
}

// TestApplyAtomic makes the kernel reject a batch and checks that the
// table applied before is listed unchanged: nothing of the failed batch,
// not even the deletion of the old table, took effect.
func TestApplyAtomic(t *testing.T) {
	n := newNetns(t)
	rs := shop(t)
	if err := firewall.Apply(n.conn, rs); err != nil {
		t.Fatal(err)
	}
	before := n.listing(t)

	for _, tc := range []struct {
		name   string
		broken func() *firewall.Ruleset
	}{
		{"jump to a missing chain", func() *firewall.Ruleset {
			b := *rs
			b.Chains = append([]*firewall.Chain(nil), rs.Chains...)
			last := *b.Chains[len(b.Chains)-1]
			last.Rules = append(append([]firewall.Rule(nil), last.Rules...),
				firewall.Rule{Verdict: firewall.Verdict{Kind: firewall.Jump, Chain: "no_such_chain"}})
			b.Chains[len(b.Chains)-1] = &last
			return &b
		}},
		{"lookup in a missing set", func() *firewall.Ruleset {
			b := *rs
			b.Chains = append([]*firewall.Chain(nil), rs.Chains...)
			first := *b.Chains[0]
			first.Rules = append(append([]firewall.Rule(nil), first.Rules...),
				firewall.Rule{Addr: &firewall.Lookup{Family: firewall.IPv4, Name: "no_such_set"}, Verdict: firewall.Verdict{Kind: firewall.Drop}})
			b.Chains[0] = &first
			return &b
		}},
		{"two chains of one name", func() *firewall.Ruleset {
			// Caught by translation, before the batch is sent.
			b := *rs
			b.Chains = append(append([]*firewall.Chain(nil), rs.Chains...), rs.Chains[0])
			return &b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := firewall.Apply(n.conn, tc.broken())
			if err == nil {
				t.Fatal("Apply of a broken ruleset succeeded")
			}
			t.Logf("Apply: %v", err)
			if diff := cmp.Diff(before, n.listing(t)); diff != "" {
				t.Errorf("failed Apply changed the table (-before +after):\n%s", diff)
			}
			// The connection is usable afterwards.
			if err := firewall.Apply(n.conn, rs); err != nil {
				t.Fatalf("Apply after a failed Apply: %v", err)
			}
			if diff := cmp.Diff(before, n.listing(t)); diff != "" {
				t.Errorf("re-Apply changed the table (-before +after):\n%s", diff)
			}
		})
	}
}

// TestApplyGoldens round-trips every golden scenario through netlink.
func TestApplyGoldens(t *testing.T) {
	n := newNetns(t)
	for _, tc := range []struct {
		name      string
		inventory string
		policies  []string
		opts      firewall.Options
	}{
		{"xyz", "testdata/xyz-inventory.yaml", []string{"testdata/xyz-policies.yaml"}, firewall.Options{}},
		{"xyz-allow-unclassified", "testdata/xyz-inventory.yaml", []string{"testdata/xyz-policies.yaml"},
			firewall.Options{AllowUnclassified: true, LogRate: -1}},
		// Drops logged to nflog group 7, where ward watch reads them.
		{"xyz-log-group", "testdata/xyz-inventory.yaml", []string{"testdata/xyz-policies.yaml"}, firewall.Options{LogGroup: 7, LogRate: 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := compile(t, load(t, tc.inventory, tc.policies...), tc.opts)
			if err := firewall.Apply(n.conn, rs); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rs.String(), n.listing(t)); diff != "" {
				t.Errorf("nft list differs from Ruleset.String (-want +got):\n%s", diff)
			}
			if err := firewall.Verify(n.conn, rs); err != nil {
				t.Errorf("Verify after Apply: %v", err)
			}
			if g := tc.opts.LogGroup; g != 0 && !strings.Contains(n.listing(t), fmt.Sprintf(`log prefix "ward-drop unclassified " group %d`, g)) {
				t.Errorf("no drop logged to group %d:\n%s", g, n.listing(t))
			}
		})
	}
}

// TestApplyForms round-trips a hand-written ruleset with every form of
// match and verdict the ruleset model has, beyond what the goldens use.
func TestApplyForms(t *testing.T) {
	n := newNetns(t)
	r4 := func(from, to string) ipset.Range {
		return ipset.Range{From: netip.MustParseAddr(from), To: netip.MustParseAddr(to)}
	}
	accept := firewall.Verdict{Kind: firewall.Accept}
	rs := &firewall.Ruleset{
		Sets: []*firewall.Set{
			{Name: "s4", Family: firewall.IPv4, Elements: []ipset.Range{r4("0.0.0.0", "0.0.0.255"), r4("10.0.0.0", "10.255.255.255"), r4("192.168.1.1", "192.168.1.1")}},
			{Name: "s6", Family: firewall.IPv6, Elements: []ipset.Range{r4("fd00::1", "fd00::1"), r4("ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}},
			{Name: "empty", Family: firewall.IPv4},
		},
		Maps: []*firewall.Map{
			{Name: "m4", Family: firewall.IPv4, Elements: []firewall.MapElement{
				{Range: r4("10.0.0.1", "10.0.0.1"), Verdict: firewall.Verdict{Kind: firewall.Goto, Chain: "c"}},
				{Range: r4("10.0.0.2", "10.0.0.3"), Verdict: accept},
				{Range: r4("10.0.0.4", "10.0.0.9"), Verdict: firewall.Verdict{Kind: firewall.Drop}},
			}},
		},
		Chains: []*firewall.Chain{
			{Name: "input", Hook: "input", Priority: -10, Rules: []firewall.Rule{
				{L4: &firewall.L4{Protocols: []portset.Protocol{portset.TCP}, Ports: []firewall.PortRange{{80, 80}, {443, 443}}}, Verdict: accept},
				{L4: &firewall.L4{Protocols: []portset.Protocol{portset.UDP}, Ports: []firewall.PortRange{{8000, 8080}}}, Counter: true, Verdict: firewall.Verdict{Kind: firewall.Drop}},
				{L4: &firewall.L4{Protocols: []portset.Protocol{portset.TCP, portset.UDP}, Ports: []firewall.PortRange{{53, 53}, {8000, 8080}, {60000, 65535}}}, Verdict: accept},
				{L4: &firewall.L4{Protocols: []portset.Protocol{portset.SCTP}}, Verdict: accept},
				{L4: &firewall.L4{Protocols: []portset.Protocol{portset.TCP, portset.UDP, portset.SCTP}}, Verdict: accept},
				{ICMPv6Types: []string{"echo-request"}, Verdict: accept},
				{ICMPTypes: []string{"redirect"}, Counter: true, Verdict: firewall.Verdict{Kind: firewall.Drop}},
				{Iif: "lo", CtState: []string{"new", "untracked"}, Verdict: accept},
				{Addr: &firewall.Lookup{Family: firewall.IPv6, Dst: true, Name: "s6"}, Verdict: firewall.Verdict{Kind: firewall.Goto, Chain: "c"}},
				{Addr: &firewall.Lookup{Family: firewall.IPv4, Name: "s4"}, L4: &firewall.L4{Protocols: []portset.Protocol{portset.SCTP}, Ports: []firewall.PortRange{{0, 1023}}}, Verdict: firewall.Verdict{Kind: firewall.Jump, Chain: "c"}},
				{Addr: &firewall.Lookup{Family: firewall.IPv4, Dst: true, Name: "empty"}, Verdict: accept},
				{VMap: &firewall.Lookup{Family: firewall.IPv4, Dst: true, Name: "m4"}},
			}},
			{Name: "c", Rules: []firewall.Rule{
				{LogPrefix: "no limit "},
				{LogPrefix: "limited ", LogRate: 3, Counter: true},
				{Verdict: firewall.Verdict{Kind: firewall.Return}},
			}},
		},
	}
	if err := firewall.Apply(n.conn, rs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs.String(), n.listing(t)); diff != "" {
		t.Errorf("nft list differs from Ruleset.String (-want +got):\n%s", diff)
	}
	_, st, err := firewall.Status(n.conn)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stats != rs.Stats() {
		t.Errorf("Status stats = %+v, want %+v", st.Stats, rs.Stats())
	}
}

// TestApplyRejects checks that what the translation cannot express is an
// error before anything is sent (no root needed: the connection is never
// used).
func TestApplyRejects(t *testing.T) {
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	one := func(r firewall.Rule) *firewall.Ruleset {
		return &firewall.Ruleset{Chains: []*firewall.Chain{{Name: "c", Rules: []firewall.Rule{r}}}}
	}
	v6 := netip.MustParseAddr("fd00::1")
	for name, rs := range map[string]*firewall.Ruleset{
		"interface":      one(firewall.Rule{Iif: "eth0"}),
		"ct state":       one(firewall.Rule{CtState: []string{"bogus"}}),
		"icmpv6":         one(firewall.Rule{ICMPv6Types: []string{"bogus"}}),
		"icmp":           one(firewall.Rule{ICMPTypes: []string{"bogus"}}),
		"no proto":       one(firewall.Rule{L4: &firewall.L4{}}),
		"ports":          one(firewall.Rule{L4: &firewall.L4{Protocols: []portset.Protocol{portset.TCP}, Ports: []firewall.PortRange{{90, 80}}}}),
		"jump":           one(firewall.Rule{Verdict: firewall.Verdict{Kind: firewall.Jump}}),
		"hook":           {Chains: []*firewall.Chain{{Name: "c", Hook: "postrouting"}}},
		"bridge name":    {Bridges: []string{"br/0"}},
		"family":         {Sets: []*firewall.Set{{Name: "s", Family: firewall.IPv4, Elements: []ipset.Range{{From: v6, To: v6}}}}},
		"map no verdict": {Maps: []*firewall.Map{{Name: "m", Family: firewall.IPv6, Elements: []firewall.MapElement{{Range: ipset.Range{From: v6, To: v6}}}}}},
	} {
		if err := firewall.Apply(conn, rs); err == nil {
			t.Errorf("%s: Apply succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestApplyLarge applies sets too large for one netlink message: Apply
// splits their elements over several.
func TestApplyLarge(t *testing.T) {
	n := newNetns(t)
	const count = 3000
	var v4, v6 []ipset.Range
	a4, a6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")
	for range count {
		v4 = append(v4, ipset.Range{From: a4, To: a4})
		v6 = append(v6, ipset.Range{From: a6, To: a6})
		a4, a6 = a4.Next().Next(), a6.Next().Next()
	}
	rs := &firewall.Ruleset{Sets: []*firewall.Set{
		{Name: "big_v4", Family: firewall.IPv4, Elements: v4},
		{Name: "big_v6", Family: firewall.IPv6, Elements: v6},
	}}
	if err := firewall.Apply(n.conn, rs); err != nil {
		t.Fatal(err)
	}
	_, st, err := firewall.Status(n.conn)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stats != rs.Stats() {
		t.Errorf("Status stats = %+v, want %+v", st.Stats, rs.Stats())
	}
	if diff := cmp.Diff(rs.String(), n.listing(t)); diff != "" {
		t.Errorf("nft list differs from Ruleset.String (-want +got):\n%.2000s", diff)
	}
}

// TestApplyOtherBridges loads the shop's ruleset closing the bridges
// named like Docker's that are not the shop's (Options.OtherBridges): nft
// lists exactly the compiled text back, its rules first in the base
// chains, a name ending in * as nft's wildcard, and Verify finds no
// difference. A name that cannot be an interface's is refused.
func TestApplyOtherBridges(t *testing.T) {
	n := newNetns(t)
	m := load(t, "testdata/shop-inventory.yaml", "../examples/shop")
	rs := compile(t, m, firewall.Options{OtherBridges: firewall.DockerBridges})
	text := rs.String()
	for _, want := range []string{
		"policy accept;\n\t\tiifname \"docker0\" iifname != @bridges counter drop\n\t\tiifname \"br-*\" iifname != @bridges counter drop\n",
		"policy accept;\n\t\toifname \"docker0\" oifname != @bridges counter drop\n\t\toifname \"br-*\" oifname != @bridges counter drop\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("ruleset text lacks %q:\n%s", want, text)
		}
	}
	if err := firewall.Apply(n.conn, rs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(text, n.listing(t)); diff != "" {
		t.Fatalf("nft list differs from Ruleset.String (-want +got):\n%s", diff)
	}
	if err := firewall.Verify(n.conn, rs); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if _, err := firewall.Compile(m.eng, m.inv, firewall.Options{OtherBridges: []string{"br x*"}}); err == nil {
		t.Error("Compile accepted the bridge name \"br x*\"")
	}
}
