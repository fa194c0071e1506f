package netpol

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/wardsec/ward/manifest"
)

// TestLabelIndex checks the index against the simple reference, every
// class tested: inNamespace and match return exactly the classes of the
// accepted namespaces whose labels the selector matches, ascending, on
// random clusters whose labels are shared across namespaces.
func TestLabelIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 13))
	keys := []string{"app", "tier", "team", "version"}
	vals := []string{"a", "b", "c", "web"}
	for round := range 40 {
		var ws []*manifest.Workload
		nns := 1 + r.IntN(6)
		for i := range 5 + r.IntN(60) {
			l := map[string]string{}
			for _, k := range keys {
				if r.IntN(3) > 0 {
					l[k] = vals[r.IntN(len(vals))]
				}
			}
			ws = append(ws, &manifest.Workload{Namespace: fmt.Sprintf("ns%d", r.IntN(nns)), Name: fmt.Sprint(i), Labels: l, HostNetwork: r.IntN(20) == 0})
		}
		ix, _ := newLabelIndex(ws)
		for range 50 {
			var sel labels.Selector
			var err error
			ops := []string{"%s=%s", "%s!=%s", "%s in (%s,c)", "%s notin (%s)", "%s", "!%s"}
			expr := ""
			for j := range r.IntN(3) {
				if j > 0 {
					expr += ","
				}
				op := ops[r.IntN(len(ops))]
				k, v := keys[r.IntN(len(keys))], vals[r.IntN(len(vals))]
				if op == "%s" || op == "!%s" {
					expr += fmt.Sprintf(op, k)
				} else {
					expr += fmt.Sprintf(op, k, v)
				}
			}
			if sel, err = labels.Parse(expr); err != nil {
				t.Fatal(err)
			}
			for n := range nns {
				ns := fmt.Sprintf("ns%d", n)
				var want []int32
				for _, c := range ix.classes {
					if c.ns == ns && sel.Matches(c.labels) {
						want = append(want, c.id)
					}
				}
				if got := ix.inNamespace(ns, sel); !slices.Equal(got, want) {
					t.Fatalf("round %d: inNamespace(%s, %q) = %v, want %v", round, ns, expr, got, want)
				}
				if got := ix.match(sel, func(n string) bool { return n == ns }, []string{ns}); !slices.Equal(got, want) {
					t.Fatalf("round %d: match(%s, %q) = %v, want %v", round, ns, expr, got, want)
				}
			}
			// A random set of namespaces, as a namespaceSelector gives.
			in := map[string]bool{}
			var list []string
			for n := range nns {
				if r.IntN(2) == 0 {
					ns := fmt.Sprintf("ns%d", n)
					in[ns] = true
					list = append(list, ns)
				}
			}
			var want []int32
			for _, c := range ix.classes {
				if in[c.ns] && sel.Matches(c.labels) {
					want = append(want, c.id)
				}
			}
			if got := ix.match(sel, func(n string) bool { return in[n] }, list); !slices.Equal(got, want) {
				t.Fatalf("round %d: match(%v, %q) = %v, want %v", round, list, expr, got, want)
			}
		}
	}
}
