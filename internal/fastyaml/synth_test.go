package fastyaml

import (
	"bytes"
	"testing"

	"github.com/wardsec/ward/internal/synth"
)

// synthDocs generates a cluster in manifest or kubectl-dump style and cuts
// its YAML files into documents at their "---" lines.
func synthDocs(tb testing.TB, cfg synth.Config) [][]byte {
	tb.Helper()
	c, err := synth.Generate(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	var docs [][]byte
	for _, f := range c.Files {
		docs = append(docs, splitDocs(f.Data)...)
	}
	return docs
}

// splitDocs cuts a stream at its "---" lines, keeping each marker with the
// document it starts.
func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	start := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		line := bytes.TrimRight(data[off:next], "\r\n")
		if off > start && (string(line) == "---" || bytes.HasPrefix(line, []byte("--- "))) {
			docs = append(docs, data[start:off])
			start = off
		}
		off = next
	}
	if start < len(data) {
		docs = append(docs, data[start:])
	}
	return docs
}

func TestDifferentialSynth(t *testing.T) {
	for _, c := range []struct {
		name       string
		dump, bare bool
	}{{"manifests", false, false}, {"dump", true, false}, {"bare dump", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			docs := synthDocs(t, synth.Config{Seed: 1, Workloads: 300, Policies: 120, Dump: c.dump, Bare: c.bare})
			if len(docs) < 300 {
				t.Fatalf("only %d documents", len(docs))
			}
			for i, doc := range docs {
				if !differential(t, doc) {
					t.Fatalf("document %d fell back to yaml.v3:\n%s", i, doc)
				}
			}
		})
	}
}
