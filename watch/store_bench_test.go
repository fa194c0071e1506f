package watch

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/store"
)

// BenchmarkStore: the pipeline (identity and detectors, from decoded
// events in batches) without a store and, in the same run, with one
// (watch/store in a temporary directory, its writer drained by Close
// inside the timing); one op is one event. "steady" replays the
// committed capture (benign traffic: after the first pass nothing new is
// learned and nothing is raised: the store's cost is the per-batch check
// for baseline changes); "new-keys" makes every event a conversation
// with a new external /24 within the learning hour (a baseline key to
// write per event: the worst case of baseline writes); "alerts" makes
// every event a new incident (unexpected egress to a new /24: an alert
// report to store per event, far beyond any real rate).
func BenchmarkStore(b *testing.B) {
	data := readBench(b)
	capture := decodeAll(b, data)
	tab, eng := benchCluster(b, capture)
	src := netip.MustParseAddr("10.244.0.10")
	for _, a := range []netip.Addr{capture[0].Src, capture[0].Dst} {
		if _, r := tab.Resolve(a, capture[0].Time); r.String() == "resolved" {
			src = a
			break
		}
	}
	t0 := capture[0].Time
	fresh := func(n int) []event.Event {
		evs := make([]event.Event, n)
		for i := range evs {
			evs[i] = event.Event{Time: t0 + int64(i)*int64(time.Millisecond), Kind: event.Flow, Proto: event.TCP, Flags: event.SYN,
				Verdict: event.Forwarded, Src: src, Dst: netip.AddrFrom4([4]byte{byte(11 + i>>16), byte(i >> 8), byte(i), 1}), SrcPort: 40000, DstPort: 443}
		}
		return evs
	}
	baseCfg := detect.Default()
	baseCfg.Egress.Enabled = false
	alertCfg := detect.Default()
	alertCfg.Baseline.Enabled = false
	for _, sc := range []struct {
		name   string
		cfg    detect.Config
		events func(n int) []event.Event
	}{
		{"steady", detect.Default(), func(n int) []event.Event {
			evs := make([]event.Event, 0, n)
			for len(evs) < n {
				evs = append(evs, capture[:min(len(capture), n-len(evs))]...)
			}
			return evs
		}},
		{"new-keys", baseCfg, fresh},
		{"alerts", alertCfg, fresh},
	} {
		for _, withStore := range []bool{false, true} {
			name := sc.name + "/none"
			if withStore {
				name = sc.name + "/store"
			}
			b.Run(name, func(b *testing.B) {
				evs := sc.events(b.N)
				var st *store.Store
				if withStore {
					var err error
					if st, err = store.Open(filepath.Join(b.TempDir(), "watch.db"), store.Config{}); err != nil {
						b.Fatal(err)
					}
				}
				p, err := New(Options{Config: sc.cfg, Table: tab, Engine: eng, Store: st})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				start, cpu0 := time.Now(), cpuTime()
				for off := 0; off < len(evs); off += event.BatchSize {
					if err := p.Deliver(evs[off:min(off+event.BatchSize, len(evs))]); err != nil {
						b.Fatal(err)
					}
				}
				if err := p.Close(); err != nil {
					b.Fatal(err)
				}
				var stats store.Stats
				if st != nil {
					if stats, err = st.Close(); err != nil {
						b.Fatal(err)
					}
				}
				cpu := cpuTime() - cpu0
				b.ReportMetric(float64(len(evs))/time.Since(start).Seconds(), "events/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(evs)), "cpu-ns/event")
				if st != nil {
					b.ReportMetric(float64(stats.Reports), "reports")
					b.ReportMetric(float64(stats.Keys), "keys")
					b.ReportMetric(float64(stats.Dropped+stats.BaselineDropped), "dropped")
				}
			})
		}
	}
}
