package source

import (
	"encoding/json"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

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
		cpu0, n := cpuTime(), 0
		for i := 0; b.Loop(); i++ {
			e = event.Event{}
			if _, _, err := h.Decode(lines[i%len(lines)], &e); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/line")
	})
	b.Run("fast-dns", func(b *testing.B) {
		// Cilium's DNS proxy records: the event's DNS record and its
		// name are the only allocations.
		dns := genHubbleDNS(rand.New(rand.NewPCG(5, 6)), 1000)
		h := NewHubble()
		var e event.Event
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e = event.Event{}
			_, _, _ = h.Decode(dns[i%len(dns)], &e)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(size / int64(len(lines)))
		b.ReportAllocs()
		cpu0, n := cpuTime(), 0
		for i := 0; b.Loop(); i++ {
			var rec HubbleRecord
			if err := json.Unmarshal(lines[i%len(lines)], &rec); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/line")
	})
}

// cpuTime is the process's user and system CPU time (the machine is
// shared: per-CPU figures say what one core does alone).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
