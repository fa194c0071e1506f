package netpol_test

import (
	"fmt"
	"testing"

	"github.com/wardsec/ward/internal/synth"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// benchSet generates and loads a synthetic cluster once per size.
func benchSet(b *testing.B, workloads, policies int) *manifest.Set {
	return benchConfig(b, synth.Config{Seed: 1, Workloads: workloads, Policies: policies})
}

func benchConfig(b *testing.B, cfg synth.Config) *manifest.Set {
	b.Helper()
	c, err := synth.Generate(cfg)
	if err != nil {
		b.Fatal(err)
	}
	set := &manifest.Set{}
	var all []byte
	for _, f := range c.Files {
		all = append(all, "\n---\n"...)
		all = append(all, f.Data...)
	}
	set, err = manifest.Parse(manifest.Options{}, "synth.yaml", all)
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// BenchmarkCompileWide measures compiling clusters where half of the
// application policies select peers of their own namespace by labels
// every namespace has (synth's WideSelectors), at the workload and policy
// counts of a 30k-pod and a 100k-pod cluster: time per op should grow
// near-linearly (3.3x the input).
func BenchmarkCompileWide(b *testing.B) {
	for _, size := range []struct{ w, p int }{{8500, 22500}, {28000, 75000}} {
		set := benchConfig(b, synth.Config{Seed: 1, Workloads: size.w, Policies: size.p, WideSelectors: true})
		b.Run(fmt.Sprintf("w=%d,p=%d", size.w, size.p), func(b *testing.B) {
			for b.Loop() {
				if _, err := netpol.Compile(set); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEngine measures compiling and the class view, without loading,
// at growing sizes: time per op should grow near-linearly with workloads +
// policies.
func BenchmarkEngine(b *testing.B) {
	for _, size := range []struct{ w, p int }{{1000, 200}, {10000, 2000}} {
		set := benchSet(b, size.w, size.p)
		b.Run(fmt.Sprintf("compile/w=%d,p=%d", size.w, size.p), func(b *testing.B) {
			for b.Loop() {
				if _, err := netpol.Compile(set); err != nil {
					b.Fatal(err)
				}
			}
		})
		eng, err := netpol.Compile(set)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("summary/w=%d,p=%d", size.w, size.p), func(b *testing.B) {
			for b.Loop() {
				eng.Summarize(netpol.Filter{})
			}
		})
		eps := eng.Endpoints()
		b.Run(fmt.Sprintf("allowed/w=%d,p=%d", size.w, size.p), func(b *testing.B) {
			i := 0
			for b.Loop() {
				eng.Allowed(eps[i%len(eps)], eps[(i*7919)%len(eps)])
				i++
			}
		})
		b.Run(fmt.Sprintf("explain/w=%d,p=%d", size.w, size.p), func(b *testing.B) {
			i := 0
			for b.Loop() {
				eng.Explain(eps[i%len(eps)], eps[(i*7919)%len(eps)], portset.Port(portset.TCP, 8080))
				i++
			}
		})
	}
}
