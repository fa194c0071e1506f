package lint_test

import (
	"testing"

	"github.com/wardsec/ward/internal/synth"
	"github.com/wardsec/ward/lint"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// BenchmarkRun lints a generated cluster of 10,000 workloads and 2,000
// policies; compare with netpol.Compile on the same input, which Run
// should not exceed by much.
func BenchmarkRun(b *testing.B) {
	c, err := synth.Generate(synth.Config{Seed: 1, Workloads: 10000, Policies: 2000, ObjectsPerFile: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	set, err := manifest.Parse(manifest.Options{}, c.Files[0].Name, c.Files[0].Data)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		lint.Run(set, eng)
	}
}
