package lint

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/internal/refeval"
	"github.com/wardsec/ward/internal/synth"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// seeds is the number of random clusters each random test tries.
func seeds() uint64 {
	if testing.Short() {
		return 100
	}
	return 1000
}

// TestMatchesEngine checks that the label groups Run matches selectors
// against agree with the engine on random clusters: the workloads a
// policy selects, and the workloads each selector peer matches; and that
// compiled peers have the key peerKey gives.
func TestMatchesEngine(t *testing.T) {
	ids := func(ws []*manifest.Workload) []string {
		out := make([]string, 0, len(ws))
		for _, w := range ws {
			out = append(out, w.ID())
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	epIDs := func(eps []*netpol.Endpoint) []string {
		var ws []*manifest.Workload
		for _, ep := range eps {
			ws = append(ws, ep.Workload)
		}
		return ids(ws)
	}
	for seed := range seeds() {
		set, eng := randomCluster(t, seed, 1)
		l := newLinter(set, eng)
		for _, p := range l.pols {
			got, want := ids(l.matchPods(p.Namespace, p.sel, false)), epIDs(eng.Selected(p.Policy))
			if !slices.Equal(got, want) {
				t.Errorf("seed %d: %s selects %v, engine says %v", seed, p.obj, got, want)
			}
			for _, d := range directions {
				for _, r := range p.rules(d) {
					for j, peer := range r.peers {
						if key := peerKey(peer); r.sels[j].key != key {
							t.Errorf("seed %d: %s %s: compiled key %q, peerKey %q", seed, p.obj, r.peerPath(j), r.sels[j].key, key)
						}
						eps, ok := eng.PeerMatches(p.Policy, d, r.index, j)
						if !ok {
							continue
						}
						got, want := ids(l.peerPods(p, r.sels[j], false)), epIDs(eps)
						if !slices.Equal(got, want) {
							t.Errorf("seed %d: %s %s matches %v, engine says %v", seed, p.obj, r.peerPath(j), got, want)
						}
						if first := l.peerPods(p, r.sels[j], true); (len(first) > 0) != (len(want) > 0) {
							t.Errorf("seed %d: %s %s: first match %v, engine says %v", seed, p.obj, r.peerPath(j), ids(first), want)
						}
					}
				}
			}
		}
		if t.Failed() {
			return
		}
	}
}

// TestRunRandom runs every check on random clusters: it must not panic,
// and every finding must name a registered rule and an object.
func TestRunRandom(t *testing.T) {
	for seed := range seeds() {
		set, eng := randomCluster(t, seed, 2)
		for _, f := range Run(set, eng) {
			if _, ok := Lookup(f.Rule); !ok || f.Object == "" || f.Message == "" || f.Fix == "" {
				t.Fatalf("seed %d: bad finding %+v", seed, f)
			}
		}
	}
}

// TestResolvesFast checks resolvesFast, which looks a named port up in the
// index of named ports, against matching the rule's destinations (the
// label groups, every workload for ipBlocks) and reading their ports, on
// random clusters: for every rule, every port name of the cluster and
// every protocol, and a name no workload has.
func TestResolvesFast(t *testing.T) {
	for seed := range seeds() {
		set, eng := randomCluster(t, seed, 3)
		l := newLinter(set, eng)
		names := []string{"no-such-port"}
		for _, w := range set.Workloads {
			for _, cp := range w.Ports {
				if cp.Name != "" && !slices.Contains(names, cp.Name) {
					names = append(names, cp.Name)
				}
			}
		}
		for _, p := range l.pols {
			for _, d := range directions {
				for _, r := range p.rules(d) {
					dests, _, wantOK := l.destinations(r)
					for _, name := range names {
						for _, proto := range portset.Protocols {
							want, _ := resolves(dests, name, proto)
							got, ok := l.resolvesFast(r, name, proto)
							if ok != wantOK || ok && got != want {
								t.Fatalf("seed %d: %s %s rule %d, port %s/%s: resolvesFast says %v (ok %v), the destinations %v (ok %v)",
									seed, p.obj, d, r.index, name, proto, got, ok, want, wantOK)
							}
						}
					}
				}
			}
		}
	}
}

// engineDestinations is what destinations computes, asked of the engine:
// the workloads of the endpoints a policy selects (ingress) or its peers
// match (egress), in endpoint order, peer by peer.
func engineDestinations(eng *netpol.Engine, r rule) (dests []*manifest.Workload, external, ok bool) {
	seen := map[*manifest.Workload]bool{}
	addEndpoints := func(eps []*netpol.Endpoint) {
		for _, ep := range eps {
			if w := ep.Workload; w != nil && !seen[w] {
				seen[w] = true
				dests = append(dests, w)
			}
		}
	}
	set := eng.Set()
	if r.dir == netpol.Ingress {
		addEndpoints(eng.Selected(r.pol.Policy))
		return dests, false, true
	}
	if len(r.peers) == 0 {
		return set.Workloads, true, true
	}
	for j, peer := range r.peers {
		if peer.IPBlock == nil {
			eps, _ := eng.PeerMatches(r.pol.Policy, r.dir, r.index, j)
			addEndpoints(eps)
			continue
		}
		if !set.PodIPsKnown {
			return nil, false, false
		}
		external = true
		for _, w := range set.Workloads {
			if slices.ContainsFunc(w.IPs, func(ip netip.Addr) bool { return inIPBlock(peer.IPBlock, ip) }) && !seen[w] {
				seen[w] = true
				dests = append(dests, w)
			}
		}
	}
	return dests, external, true
}

// inIPBlock reports whether b's cidr holds ip and none of its excepts do.
func inIPBlock(b *networkingv1.IPBlock, ip netip.Addr) bool {
	in := func(cidr string) bool {
		p, err := netip.ParsePrefix(cidr)
		return err == nil && p.Contains(ip.Unmap())
	}
	return in(b.CIDR) && !slices.ContainsFunc(b.Except, in)
}

// TestDestinationsEngine checks destinations, which matches selectors
// against the label groups, against the engine on random clusters: the
// same workloads in the same order.
func TestDestinationsEngine(t *testing.T) {
	for seed := range seeds() {
		set, eng := randomCluster(t, seed, 4)
		l := newLinter(set, eng)
		for _, p := range l.pols {
			for _, d := range directions {
				for _, r := range p.rules(d) {
					got, gotExt, gotOK := l.destinations(r)
					want, wantExt, wantOK := engineDestinations(eng, r)
					if !slices.Equal(got, want) || gotExt != wantExt || gotOK != wantOK {
						t.Fatalf("seed %d: %s %s: destinations %v (external %v, ok %v), engine says %v (external %v, ok %v)",
							seed, p.obj, r.path(), got, gotExt, gotOK, want, wantExt, wantOK)
					}
				}
			}
		}
	}
}

// TestEgressRulesDNS checks the verdict egressRulesDNS reads from a
// workload's egress rules, when it says no rule can allow DNS, against the
// engine on random and generated clusters: no endpoint of the workload
// isolated for egress may then connect to port 53 over UDP or TCP
// anywhere.
func TestEgressRulesDNS(t *testing.T) {
	never := 0
	check := func(name string, set *manifest.Set) {
		t.Helper()
		eng, err := netpol.Compile(set)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		l := newLinter(set, eng)
		for _, w := range set.Workloads {
			if w.HostNetwork || l.egressRulesDNS(w) != dnsNever {
				continue
			}
			for _, src := range eng.EndpointsOf(w) {
				if !src.Class().Isolated(netpol.Egress) {
					continue // egressWithoutDNS asks only then
				}
				never++
				for _, dst := range eng.Endpoints() {
					if a := eng.Allowed(src, dst); a.Contains(portset.UDP, 53) || a.Contains(portset.TCP, 53) {
						t.Fatalf("%s: the rules of %s allow no DNS, but the engine allows %s to %s: %s", name, w.ID(), src, dst, a)
					}
				}
			}
		}
	}
	for seed := range seeds() {
		set, err := refeval.RandomSet(rand.New(rand.NewPCG(seed, 5)))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		check(fmt.Sprintf("random seed %d", seed), set)
	}
	for seed := range uint64(4) {
		for _, dump := range []bool{false, true} {
			c, err := synth.Generate(synth.Config{Seed: seed, Workloads: 150, Policies: 300, Dump: dump, WideSelectors: seed%2 == 1, ObjectsPerFile: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("synth seed %d dump %v", seed, dump)
			set, err := manifest.Parse(manifest.Options{}, c.Files[0].Name, c.Files[0].Data)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			check(name, set)
		}
	}
	if never == 0 {
		t.Fatal("no endpoint isolated for egress whose rules allow no DNS: the test tests nothing")
	}
}

// TestIsolatingIndex checks isolating, which looks the policies selecting
// a workload up by label group, against testing every policy of the
// workload's namespace on random clusters.
func TestIsolatingIndex(t *testing.T) {
	for seed := range seeds() {
		set, eng := randomCluster(t, seed, 6)
		l := newLinter(set, eng)
		for _, w := range set.Workloads {
			for _, d := range directions {
				var want []*policy
				for _, p := range l.pols {
					sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
					if err == nil && p.isolates[d] && p.Namespace == w.Namespace && sel.Matches(labels.Set(w.Labels)) {
						want = append(want, p)
					}
				}
				if got := l.isolating(w, d); !slices.Equal(got, want) {
					t.Fatalf("seed %d: %s %s: isolating gives %d policies, want %d", seed, w.ID(), d, len(got), len(want))
				}
			}
		}
	}
}

// randomCluster is the random cluster of seed in stream (each test its
// own), compiled.
func randomCluster(t *testing.T, seed, stream uint64) (*manifest.Set, *netpol.Engine) {
	t.Helper()
	set, err := refeval.RandomSet(rand.New(rand.NewPCG(seed, stream)))
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	return set, eng
}
