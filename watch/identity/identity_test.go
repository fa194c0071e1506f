package identity

import (
	"math"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/wardsec/ward/manifest"
)

func at(s string) int64 {
	t, err := time.Parse(time.RFC3339, "2026-12-06T"+s+"Z")
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func load(t *testing.T) *Table {
	t.Helper()
	set, err := manifest.Load(manifest.Options{}, "testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return FromManifests(set, netip.MustParsePrefix("10.244.0.0/16"))
}

// TestResolveOverTime: an address reused by a new workload is the new
// one's only from when its pod started; before, the old one's until it
// finished; in between, nobody's.
func TestResolveOverTime(t *testing.T) {
	tab := load(t)
	for _, tc := range []struct {
		addr, time string
		want       string
		res        Resolution
	}{
		{"10.244.0.5", "07:30:00", "shop/Deployment/web", Resolved},
		{"fd00::5", "07:30:00", "shop/Deployment/web", Resolved},
		{"::ffff:10.244.0.5", "07:30:00", "shop/Deployment/web", Resolved},
		{"10.244.0.5", "06:59:59", "", Unknown}, // before its pod started
		{"10.244.0.9", "06:05:00", "shop/Job/migrate", Resolved},
		{"10.244.0.9", "06:20:00", "", Unknown}, // the job finished, db-0 not yet started
		{"10.244.0.9", "06:30:00", "shop/StatefulSet/db", Resolved},
		{"10.244.0.9", "09:00:00", "shop/StatefulSet/db", Resolved},
		{"10.244.7.7", "07:00:00", "", Unknown}, // in the pod range, never claimed
		{"203.0.113.9", "07:00:00", "", External},
	} {
		w, res := tab.Resolve(netip.MustParseAddr(tc.addr), at(tc.time))
		got := ""
		if w != nil {
			got = w.ID()
		}
		if got != tc.want || res != tc.res {
			t.Errorf("%s at %s: %q %s, want %q %s", tc.addr, tc.time, got, res, tc.want, tc.res)
		}
	}
	w, _ := tab.Resolve(netip.MustParseAddr("10.244.0.5"), at("07:30:00"))
	if w.Pod != "web-5d9c7b-x2x9q" || w.Labels["app"] != "web" || w.W == nil {
		t.Errorf("resolved workload %+v lacks its pod, labels or manifest workload", w)
	}
}

func TestClaimsAnyOrder(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	old, nw := &Workload{Namespace: "a", Name: "old", Kind: "Pod"}, &Workload{Namespace: "b", Name: "new", Kind: "Pod"}
	for _, order := range [][]Claim{
		{{a, 100, Open, old}, {a, 200, Open, nw}},
		{{a, 200, Open, nw}, {a, 100, Open, old}},
	} {
		tab := NewTable()
		for _, c := range order {
			tab.Add(c)
		}
		for _, tc := range []struct {
			at   int64
			want *Workload
		}{{99, nil}, {100, old}, {199, old}, {200, nw}, {math.MaxInt64 - 1, nw}} {
			if w, _ := tab.Resolve(a, tc.at); w != tc.want {
				t.Errorf("at %d: %v, want %v", tc.at, w, tc.want)
			}
		}
	}
	// Two owners from the same instant: neither is believed.
	tab := NewTable()
	tab.Add(Claim{a, 100, Open, old})
	tab.Add(Claim{a, 100, Open, nw})
	if w, res := tab.Resolve(a, 150); w != nil || res != Unknown {
		t.Errorf("ambiguous claim resolved to %v %s", w, res)
	}
}

func TestByPod(t *testing.T) {
	tab := load(t)
	for _, tc := range []struct{ ns, pod, want string }{
		{"shop", "web-5d9c7b-x2x9q", "shop/Deployment/web"},
		{"shop", "web-5d9c7b-zzzzz", "shop/Deployment/web"}, // a pod not in the dump
		{"shop", "db-1", "shop/StatefulSet/db"},
		{"other", "web-5d9c7b-x2x9q", ""},
		{"shop", "webby", ""},
		// Named after a workload by hand, or another workload's pod
		// missing from the dump: not the workload's (its labels, and so
		// its policies, may be anything).
		{"shop", "web-debug", ""},
		{"shop", "web-canary-5d9c7b-x2x9q", ""},
		{"shop", "web-x2x9q", ""}, // a Deployment's pods have a template hash
		{"shop", "db-01", ""},
		{"shop", "db-evil", ""},
		{"shop", "", ""},
	} {
		got := ""
		if w := tab.ByPod(tc.ns, tc.pod); w != nil {
			got = w.ID()
		}
		if got != tc.want {
			t.Errorf("ByPod(%s, %s) = %q, want %q", tc.ns, tc.pod, got, tc.want)
		}
	}
}

// TestReplace: an inventory read again at 08:00 (a container stopped, one
// started on its address, one moved) answers as the old one before 08:00
// and as the new one after.
func TestReplace(t *testing.T) {
	a, b, c := netip.MustParseAddr("172.18.0.2"), netip.MustParseAddr("172.18.0.3"), netip.MustParseAddr("172.18.0.4")
	web := &Workload{Namespace: "p", Kind: "Pod", Name: "web"}
	db := &Workload{Namespace: "p", Kind: "Pod", Name: "db"}
	web2 := &Workload{Namespace: "p", Kind: "Pod", Name: "web"} // the same container, read again
	rogue := &Workload{Namespace: "p", Kind: "Pod", Name: "rogue"}
	old := NewTable(netip.MustParsePrefix("172.18.0.0/16"))
	old.Add(Claim{Addr: a, From: math.MinInt64, To: Open, Who: web})
	old.Add(Claim{Addr: b, From: math.MinInt64, To: Open, Who: db})
	next := NewTable(netip.MustParsePrefix("172.18.0.0/16"))
	next.Add(Claim{Addr: a, From: math.MinInt64, To: Open, Who: web2})
	next.Add(Claim{Addr: b, From: math.MinInt64, To: Open, Who: rogue}) // db stopped, rogue got its address
	next.Add(Claim{Addr: c, From: math.MinInt64, To: Open, Who: db})    // db restarted elsewhere
	tab := old.Replace(at("08:00:00"), next)
	for _, tc := range []struct {
		addr netip.Addr
		time string
		want *Workload
		res  Resolution
	}{
		{a, "07:59:59", web, Resolved},
		{a, "08:00:00", web2, Resolved},
		{b, "07:00:00", db, Resolved},
		{b, "08:00:01", rogue, Resolved},
		{c, "07:59:59", nil, Unknown}, // nobody's before the new inventory
		{c, "08:30:00", db, Resolved},
	} {
		w, res := tab.Resolve(tc.addr, at(tc.time))
		if w != tc.want || res != tc.res {
			t.Errorf("%s at %s: %v %s, want %v %s", tc.addr, tc.time, w, res, tc.want, tc.res)
		}
	}
	// Replacing again keeps the history.
	tab = tab.Replace(at("09:00:00"), NewTable(netip.MustParsePrefix("172.18.0.0/16")))
	if w, _ := tab.Resolve(b, at("08:30:00")); w != rogue {
		t.Errorf("after a second replace, 172.18.0.3 at 08:30 is %v, want rogue", w)
	}
	if _, res := tab.Resolve(b, at("09:30:00")); res != Unknown {
		t.Errorf("after every container left: %s", res)
	}
}

// TestNodeAddresses: a pod's hostIP(s) name its node's own addresses,
// and a replaced table keeps them.
func TestNodeAddresses(t *testing.T) {
	dir := t.TempDir()
	f := dir + "/pods.yaml"
	doc := `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {nodeName: n1, containers: [{name: web, image: web:1}]}
status: {phase: Running, hostIP: 172.18.0.4, hostIPs: [{ip: 172.18.0.4}, {ip: "fc00:f853::4"}], podIP: 10.244.0.5}
`
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(manifest.Options{}, f)
	if err != nil {
		t.Fatal(err)
	}
	tab := FromManifests(set, netip.MustParsePrefix("10.244.0.0/16"))
	tab = NewTable().Replace(at("07:00:00"), tab)
	for a, want := range map[string]bool{"172.18.0.4": true, "::ffff:172.18.0.4": true, "fc00:f853::4": true, "10.244.0.5": false, "172.18.0.5": false} {
		if got := tab.Node(netip.MustParseAddr(a), at("07:00:01")); got != want {
			t.Errorf("Node(%s) = %v, want %v", a, got, want)
		}
	}
}

// Node addresses follow the input: node IPs are recycled (autoscaling;
// with AWS VPC CNI nodes and pods share a subnet), and an old node's
// address kept for ever made a new pod given it (not yet in the
// manifests) a node: its egress and ICMP errors went unjudged.
func TestNodeAddressesAgeOut(t *testing.T) {
	load := func(doc string) *Table {
		f := t.TempDir() + "/pods.yaml"
		if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		set, err := manifest.Load(manifest.Options{}, f)
		if err != nil {
			t.Fatal(err)
		}
		return FromManifests(set, netip.MustParsePrefix("10.0.0.0/16"))
	}
	pod := func(name, hostIP, podIP, start string) string {
		return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: shop}\n" +
			"spec: {containers: [{name: c, image: c:1}]}\n" +
			"status: {phase: Running, hostIP: " + hostIP + ", podIP: " + podIP + ", startTime: \"2026-12-06T" + start + "Z\"}\n"
	}
	node := netip.MustParseAddr("10.0.1.10")
	tab := NewTable().Replace(at("07:00:00"), load(pod("web", "10.0.1.10", "10.0.1.20", "06:00:00")))
	// The node's pods rescheduled: a reload lacks it, and the node stays
	// the node's for NodeGrace.
	tab = tab.Replace(at("07:01:00"), load(pod("api", "10.0.2.10", "10.0.2.20", "06:00:00")))
	for _, c := range []struct {
		at   string
		want bool
	}{{"06:59:00", true}, {"07:05:59", true}, {"07:06:00", false}, {"08:00:00", false}} {
		if got := tab.Node(node, at(c.at)); got != c.want {
			t.Errorf("after a reload without it: Node(%s, %s) = %v, want %v", node, c.at, got, c.want)
		}
	}
	// A later reload does not restart the grace; back in the input, it
	// is the node's again.
	if tab2 := tab.Replace(at("07:04:00"), load(pod("api", "10.0.2.10", "10.0.2.20", "06:00:00"))); tab2.Node(node, at("07:07:00")) {
		t.Errorf("a second reload without the node extended its grace")
	}
	if tab2 := tab.Replace(at("07:04:00"), load(pod("web", "10.0.1.10", "10.0.1.20", "06:00:00"))); !tab2.Node(node, at("09:00:00")) {
		t.Errorf("a node listed again is no node")
	}
	// A pod of the new input owns the old node's address: the pod's
	// from the reload on, within the grace.
	tab = NewTable().Replace(at("07:00:00"), load(pod("web", "10.0.1.10", "10.0.1.20", "06:00:00")))
	tab = tab.Replace(at("07:01:00"), load(pod("api", "10.0.2.10", "10.0.1.10", "07:00:30")))
	if tab.Node(node, at("07:02:00")) || !tab.Node(node, at("07:00:59")) {
		t.Errorf("old node address owned by a new pod: Node at 07:02 = %v (want false), at 07:00:59 = %v (want true)",
			tab.Node(node, at("07:02:00")), tab.Node(node, at("07:00:59")))
	}
	// In one input, a stale hostIP (a pod's status naming a node since
	// gone) a running pod holds is that pod's from its start.
	tab = load(pod("old", "10.0.1.10", "10.0.1.21", "05:00:00") + pod("api", "10.0.2.10", "10.0.1.10", "06:30:00"))
	if tab.Node(node, at("06:31:00")) || !tab.Node(node, at("06:29:00")) {
		t.Errorf("hostIP held by a running pod of the same input is still a node's")
	}
	// Memory stays bounded: addresses long no node's are forgotten.
	tab = NewTable().Replace(at("07:00:00"), load(pod("web", "10.0.1.10", "10.0.1.20", "06:00:00")))
	for _, h := range []string{"07:01:00", "08:00:00", "09:00:00"} {
		tab = tab.Replace(at(h), load(pod("api", "10.0.2.10", "10.0.2.20", "06:00:00")))
	}
	if _, ok := tab.nodes[node]; ok {
		t.Errorf("node address aged out long ago still stored")
	}
}
