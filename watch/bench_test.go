package watch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/identity"
	"github.com/wardsec/ward/watch/source"
)

// cpuTime is the process's user and system CPU time: on a machine
// shared with other work, throughput per CPU second is what one core
// would do alone; wall-clock rates are reported beside it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLines is the committed capture every Hubble benchmark reads.
const benchLines = "source/testdata/bench.jsonl"

// benchCluster builds a cluster owning every address of the capture: one
// Pod per address, in the namespace the capture names for it, and in
// each namespace a policy isolating ingress but admitting the whole
// cluster, so that every flow is judged by the engine and benign traffic
// raises nothing.
func benchCluster(tb testing.TB, evs []event.Event) (*identity.Table, *netpol.Engine) {
	tb.Helper()
	seen := map[netip.Addr]bool{}
	var b strings.Builder
	ns := map[string]bool{}
	pod := func(a netip.Addr, namespace string) {
		if seen[a] || namespace == "" {
			return
		}
		seen[a] = true
		ns[namespace] = true
		name := strings.NewReplacer(".", "-", ":", "-").Replace(a.String())
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%s, namespace: %s, labels: {app: a%d}}\nspec: {containers: [{name: c, image: i}]}\nstatus: {phase: Running, podIP: %q}\n",
			name, namespace, len(seen)%7, a)
	}
	for _, e := range evs {
		pod(e.Src, e.SrcNamespace)
		pod(e.Dst, e.DstNamespace)
	}
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range ns {
			if !yield(n) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: cluster-only, namespace: %s}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}\n", n)
	}
	set, err := manifest.Parse(manifest.Options{}, "bench.yaml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		tb.Fatal(err)
	}
	return identity.FromManifests(set, netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("fd00::/64")), eng
}

// decodeAll decodes the capture with the fast decoder.
func decodeAll(tb testing.TB, data []byte) []event.Event {
	tb.Helper()
	var c collector
	l := &source.Lines{Label: "hubble", Path: benchLines, In: bytes.NewReader(data), Decoder: source.NewHubble()}
	if err := l.Run(context.Background(), &c); err != nil || c.problems > 0 {
		tb.Fatalf("%v, %d problems", err, c.problems)
	}
	return c.events
}

type collector struct {
	events   []event.Event
	problems int
}

func (c *collector) Deliver(b []event.Event) error { c.events = append(c.events, b...); return nil }
func (c *collector) Problem(event.Problem)         { c.problems++ }

func readBench(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile(benchLines)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// BenchmarkDetectors: the detectors alone over the capture's events,
// resolved beforehand; one op is one event. Target: >= 1M events/s on one
// core.
func BenchmarkDetectors(b *testing.B) {
	data := readBench(b)
	evs := decodeAll(b, data)
	tab, eng := benchCluster(b, evs)
	obs := make([]detect.Observation, len(evs))
	for i := range evs {
		e := &evs[i]
		obs[i] = detect.Observation{E: e}
		obs[i].Src, obs[i].SrcRes = tab.Resolve(e.Src, e.Time)
		obs[i].Dst, obs[i].DstRes = tab.Resolve(e.Dst, e.Time)
	}
	alerts := 0
	d := detect.New(detect.Default(), eng, nil, func(*detect.Alert) { alerts++ })
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	n := 0
	for n < b.N {
		for off := 0; off < len(obs) && n < b.N; off += event.BatchSize {
			batch := obs[off:min(off+event.BatchSize, len(obs), off+b.N-n)]
			d.Observe(batch)
			n += len(batch)
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(n)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	st := d.Stats()
	if st.Judged == 0 {
		b.Fatal("nothing judged: the benchmark measures nothing")
	}
}

// BenchmarkHubbleEndToEnd reads the committed capture as `ward watch
// --hubble` does (lines, decoding, identity, detectors) and, in the same
// run, decodes the same lines with encoding/json into the same structs
// (source.HubbleRecord): one op is one line. Targets: ward >= 200k
// lines/s, and ward's time per line within 1.5x of encoding/json's.
func BenchmarkHubbleEndToEnd(b *testing.B) {
	data := readBench(b)
	tab, eng := benchCluster(b, decodeAll(b, data))
	lines := bytes.Count(data, []byte{'\n'})
	b.Run("ward", func(b *testing.B) {
		p, err := New(Options{Config: detect.Default(), Table: tab, Engine: eng, Alerts: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data) / lines))
		b.ReportAllocs()
		dec := source.NewHubble() // one decoder, as one followed stream has
		start, cpu0 := time.Now(), cpuTime()
		rounds := (b.N + lines - 1) / lines
		for range rounds {
			l := &source.Lines{Label: "hubble", Path: benchLines, In: bytes.NewReader(data), Decoder: dec}
			if err := l.Run(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
		reportLines(b, rounds*lines, start, cpu0)
		if s := p.Summary(); s.Judged == 0 || s.BadRecords > 0 {
			b.Fatalf("summary %+v", s)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data) / lines))
		b.ReportAllocs()
		start, cpu0 := time.Now(), cpuTime()
		rounds := (b.N + lines - 1) / lines
		for range rounds {
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 64<<10), source.DefaultMaxLine)
			for sc.Scan() {
				var rec source.HubbleRecord
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportLines(b, rounds*lines, start, cpu0)
	})
}

func reportLines(b *testing.B, n int, start time.Time, cpu0 time.Duration) {
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "lines/s")
	b.ReportMetric(float64(n)/cpu.Seconds(), "lines/cpu-s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/line")
}

// BenchmarkMemory1MSources: one million distinct sources, each making a
// failed connection (a dropped SYN) within 4 s, inside every window, so that every
// detector table holds a million keys; reports the heap they take.
// Target: under 1 GiB.
func BenchmarkMemory1MSources(b *testing.B) {
	const sources = 1_000_000
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cfg := detect.Default()
		d := detect.New(cfg, nil, nil, func(*detect.Alert) {})
		t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC).UnixNano()
		batch := make([]event.Event, event.BatchSize)
		obs := make([]detect.Observation, event.BatchSize)
		dst := netip.MustParseAddr("10.244.0.10")
		for i := 0; i < sources; i += event.BatchSize {
			n := min(event.BatchSize, sources-i)
			for j := range n {
				k := i + j
				batch[j] = event.Event{Time: t0 + int64(k)*int64(4*time.Second)/sources, Kind: event.Flow,
					Src: netip.AddrFrom4([4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)}), Dst: dst,
					SrcPort: 40000, DstPort: uint16(1 + k%1024), Proto: event.TCP, Flags: event.SYN, Verdict: event.Dropped}
				obs[j] = detect.Observation{E: &batch[j], SrcRes: identity.External, DstRes: identity.Unknown}
			}
			d.Observe(obs[:n])
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := d.Stats()
		if st.Tracked < 3*sources || st.Untracked > 0 {
			b.Fatalf("tracked %d keys, untracked %d", st.Tracked, st.Untracked)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(sources), "B/source")
		runtime.KeepAlive(d)
	}
}
