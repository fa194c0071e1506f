package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/watch/event"
)

// benchEvents returns n conntrack-like events with IDs never used before
// in this process (the server would drop a repeated ID).
var benchSerial atomic.Uint64

func benchEvents(n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		s := benchSerial.Add(1)
		evs[i] = event.Event{Time: 1_765_000_000e9 + int64(s), ID: s*0x9e3779b97f4a7c15 | 1,
			Src: netip.AddrFrom4([4]byte{10, 0, byte(s >> 8), byte(s)}), Dst: netip.MustParseAddr("10.0.5.2"),
			SrcPort: uint16(1024 + s%60000), DstPort: 5432, Packets: 6, Bytes: 512, ReplyPackets: 4, ReplyBytes: 2300,
			Proto: event.TCP, Origin: event.OriginConntrack, Kind: event.ConnEnd, Verdict: event.Forwarded, Node: "worker-3"}
	}
	return evs
}

// countSink counts events.
type countSink struct{ n atomic.Int64 }

func (c *countSink) Deliver(b []event.Event) error { c.n.Add(int64(len(b))); return nil }
func (c *countSink) Problem(event.Problem)         {}

// BenchmarkFleet measures events per second through a nats-server with
// file storage on loopback: publishing (acknowledged by the server),
// consuming (fetched, decoded, deduplicated, delivered, acknowledged),
// and both at once, one publisher and one consumer.
func BenchmarkFleet(b *testing.B) {
	srv := testenv.NATSServer(b, "")
	ctx := context.Background()
	nc := connect(b, ConnOptions{URL: srv.URL})
	cnc := connect(b, ConnOptions{URL: srv.URL})
	// Each run gets a stream of its own: a consumer cancelled at the end
	// of a run strands the batch it was fetching until its ack wait, which
	// the next run would wait for.
	var runs int
	var pub *Publisher
	var cons *Consumer
	fresh := func(b *testing.B) {
		runs++
		prefix := fmt.Sprintf("bench%d", runs)
		st := StreamOptions{Name: fmt.Sprintf("BENCH%d", runs)}
		var err error
		if pub, err = NewPublisher(ctx, nc, PublisherOptions{Stream: st, SubjectPrefix: prefix}); err != nil {
			b.Fatal(err)
		}
		st.Subjects = []string{prefix + ".>"}
		if cons, err = NewConsumer(ctx, cnc, ConsumerOptions{Stream: st, Durable: "bench", MaxWait: 50 * time.Millisecond}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if st := pub.Stats(); st.Failed != 0 || st.Duplicates != 0 || st.Stored != st.Events {
				b.Errorf("publisher %+v", st)
			}
			if st := cons.Stats(); st.Duplicates != 0 || st.Bad != 0 {
				b.Errorf("consumer %+v", st)
			}
		})
	}
	consume := func(b *testing.B, sink *countSink, want int64) {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- cons.Run(rctx, sink) }()
		for sink.n.Load() < want {
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-done
	}
	b.Run("publish", func(b *testing.B) {
		fresh(b)
		evs := benchEvents(b.N)
		b.ResetTimer()
		deliver(b, pub, evs)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("consume", func(b *testing.B) {
		fresh(b)
		deliver(b, pub, benchEvents(b.N))
		b.ResetTimer()
		consume(b, &countSink{}, int64(b.N))
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("publish+consume", func(b *testing.B) {
		fresh(b)
		evs := benchEvents(b.N)
		b.ResetTimer()
		perr := make(chan error, 1)
		go func() {
			var err error
			for i := 0; i < len(evs) && err == nil; i += event.BatchSize {
				err = pub.Deliver(evs[i:min(i+event.BatchSize, len(evs))])
			}
			perr <- err
		}()
		consume(b, &countSink{}, int64(b.N))
		if err := <-perr; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkCodec compares the binary encoding with encoding/json of the
// same events (the baseline): bytes per event, encode and decode time.
func BenchmarkCodec(b *testing.B) {
	type plain event.Event
	e := benchEvents(1)[0]
	bin := Append(nil, &e)
	js, err := json.Marshal(plain(e))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		size int
		fn   func() error
	}{
		{"binary/encode", len(bin), func() error { bin = Append(bin[:0], &e); return nil }},
		{"json/encode", len(js), func() error { var err error; js, err = json.Marshal(plain(e)); return err }},
		{"binary/decode", len(bin), func() error { var out event.Event; return decoder.Decode(bin, &out) }},
		{"json/decode", len(js), func() error { var out plain; return json.Unmarshal(js, &out) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.fn(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bc.size), "bytes/event")
		})
	}
}

var decoder = NewDecoder()
