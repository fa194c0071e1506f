package source

import (
	"encoding/json"
	"testing"

	"github.com/wardsec/ward/watch/event"
)

// BenchmarkHubble decodes the committed lines (testdata/bench.jsonl) with
// the fast decoder into Events and, in the same run, with encoding/json
// into HubbleRecord: the baseline of issue 15's ratio.
func BenchmarkHubble(b *testing.B) {
	lines := readLines(b, "testdata/bench.jsonl")
	var size int64
	for _, l := range lines {
		size += int64(len(l))
	}
	b.Run("fast", func(b *testing.B) {
		h := NewHubble()
		var e event.Event
		b.SetBytes(size / int64(len(lines)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e = event.Event{}
			if _, _, err := h.Decode(lines[i%len(lines)], &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(size / int64(len(lines)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var rec HubbleRecord
			if err := json.Unmarshal(lines[i%len(lines)], &rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
