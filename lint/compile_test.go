package lint

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/internal/synth"
	"github.com/wardsec/ward/manifest"
)

// TestCompilerMemo checks the compiler, which converts each distinct
// selector and ipBlock once, against converting every one afresh, on
// generated clusters, whose policies repeat selectors: the same selectors,
// canonical forms and peer keys.
func TestCompilerMemo(t *testing.T) {
	str := func(s labels.Selector) string {
		if s == nil {
			return "<nil>"
		}
		return s.String()
	}
	fresh := func(ls *metav1.LabelSelector) string {
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return "<nil>"
		}
		return s.String()
	}
	for seed := range uint64(4) {
		c, err := synth.Generate(synth.Config{Seed: seed, Workloads: 150, Policies: 400, WideSelectors: seed%2 == 1, ObjectsPerFile: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		set, err := manifest.Parse(manifest.Options{}, c.Files[0].Name, c.Files[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		cc := newCompiler()
		selectors := 0 // in the input
		for _, mp := range set.Policies {
			p := cc.policy(mp)
			selectors++
			where := fmt.Sprintf("seed %d: %s", seed, p.obj)
			if p.selKey != canonical(&mp.Spec.PodSelector) || str(p.sel) != fresh(&mp.Spec.PodSelector) {
				t.Fatalf("%s: podSelector compiled to %s (key %q)", where, str(p.sel), p.selKey)
			}
			for _, d := range directions {
				for _, r := range p.rules(d) {
					for j, peer := range r.peers {
						ps := r.sels[j]
						if ps.key != peerKey(peer) {
							t.Fatalf("%s %s: key %q, peerKey %q", where, r.peerPath(j), ps.key, peerKey(peer))
						}
						if peer.IPBlock != nil {
							continue
						}
						if peer.PodSelector != nil {
							selectors++
						}
						if peer.NamespaceSelector != nil {
							selectors++
						}
						if peer.PodSelector != nil && str(ps.pod) != fresh(peer.PodSelector) {
							t.Fatalf("%s %s: podSelector compiled to %s", where, r.peerPath(j), str(ps.pod))
						}
						if peer.NamespaceSelector != nil && str(ps.ns) != fresh(peer.NamespaceSelector) {
							t.Fatalf("%s %s: namespaceSelector compiled to %s", where, r.peerPath(j), str(ps.ns))
						}
					}
				}
			}
		}
		if 2*len(cc.selectors) > selectors {
			t.Errorf("seed %d: %d distinct selectors of %d: the test hardly tests the memo", seed, len(cc.selectors), selectors)
		}
	}
}
