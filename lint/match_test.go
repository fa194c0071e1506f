package lint

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wardsec/ward/internal/refeval"
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
// policy selects, and the workloads each selector peer matches.
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
		set, err := refeval.RandomSet(rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		eng, err := netpol.Compile(set)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		l := newLinter(set, eng)
		for _, p := range l.pols {
			got, want := ids(l.matchPods(p.Namespace, p.sel, false)), epIDs(eng.Selected(p.Policy))
			if !slices.Equal(got, want) {
				t.Errorf("seed %d: %s selects %v, engine says %v", seed, p.obj, got, want)
			}
			for _, d := range directions {
				for _, r := range p.rules(d) {
					for j, peer := range r.peers {
						eps, ok := eng.PeerMatches(p.Policy, d, r.index, j)
						if !ok {
							continue
						}
						got, want := ids(l.peerPods(p, peer, false)), epIDs(eps)
						if !slices.Equal(got, want) {
							t.Errorf("seed %d: %s %s matches %v, engine says %v", seed, p.obj, r.peerPath(j), got, want)
						}
						if first := l.peerPods(p, peer, true); (len(first) > 0) != (len(want) > 0) {
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
		set, err := refeval.RandomSet(rand.New(rand.NewPCG(seed, 2)))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		eng, err := netpol.Compile(set)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
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
		set, err := refeval.RandomSet(rand.New(rand.NewPCG(seed, 3)))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		eng, err := netpol.Compile(set)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
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
					dests, _, wantOK := l.destinations(r, true)
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
