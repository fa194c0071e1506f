package event_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/wardsec/ward/watch/event"
)

// countSink counts what it is given.
type countSink struct{ syns, problems int }

func (s *countSink) Deliver(batch []event.Event) error {
	for i := range batch {
		if batch[i].Proto == event.TCP && batch[i].Flags.IsSYN() {
			s.syns++
		}
	}
	return nil
}

func (s *countSink) Problem(event.Problem) { s.problems++ }

// synSource delivers n SYNs stamped by its clock, one second apart.
type synSource struct {
	clock event.Clock
	n     int
}

func (s *synSource) Name() string { return "example" }

func (s *synSource) Run(ctx context.Context, sink event.Sink) error {
	batch := make([]event.Event, 0, event.BatchSize)
	for i := range s.n {
		batch = append(batch, event.Event{
			Time:    event.Nanos(s.clock.Now()) + int64(i)*int64(time.Second),
			Origin:  event.OriginConntrack,
			Kind:    event.ConnNew,
			Src:     netip.MustParseAddr("10.0.0.1"),
			Dst:     netip.MustParseAddr("10.0.0.2"),
			DstPort: 443,
			Proto:   event.TCP,
			Flags:   event.SYN,
		})
		if len(batch) == cap(batch) {
			if err := sink.Deliver(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		return sink.Deliver(batch)
	}
	return ctx.Err()
}

func Example() {
	clock := event.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	var sink countSink
	if err := (&synSource{clock: clock, n: 300}).Run(context.Background(), &sink); err != nil {
		fmt.Println(err)
	}
	fmt.Println(sink.syns, "SYNs,", sink.problems, "problems")
	// Output: 300 SYNs, 0 problems
}
