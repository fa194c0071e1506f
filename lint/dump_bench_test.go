package lint_test

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/lint"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// BenchmarkRunDump lints the manifests or cluster dump in the directory
// $WARD_LINT_DUMP (skipped when unset), loaded and compiled once as ward
// check does, e.g. one from
//
//	go run ./cmd/ward-synth -pods 100000 -policies 75000 -dump -seed 1 -out DIR
//
// With $WARD_LINT_OUT set, it writes the findings of the first run there as
// JSON lines, to compare two versions of Run byte for byte.
func BenchmarkRunDump(b *testing.B) {
	dir := os.Getenv("WARD_LINT_DUMP")
	if dir == "" {
		b.Skip("WARD_LINT_DUMP is not set")
	}
	set, err := manifest.Load(manifest.Options{FieldLines: true}, dir)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		b.Fatal(err)
	}
	if out := os.Getenv("WARD_LINT_OUT"); out != "" {
		writeFindings(b, out, lint.Run(set, eng))
	}
	b.ResetTimer()
	for b.Loop() {
		lint.Run(set, eng)
	}
}

// writeFindings writes fs to path as JSON lines.
func writeFindings(b *testing.B, path string, fs []finding.Finding) {
	b.Helper()
	f, err := os.Create(path) // #nosec G304 -- a path the developer running the benchmark names
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, x := range fs {
		if err := enc.Encode(x); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
