package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardsec/ward/watch/event"
)

// DefaultDedupWindow is the number of event IDs a Dedup remembers.
const DefaultDedupWindow = 1 << 18

// Dedup remembers the IDs of the last N events delivered, to drop an
// event delivered again: a message redelivered because its
// acknowledgement was lost in a crash, or an event published again after
// the server's duplicate window. It holds N IDs at most (about 40 bytes
// each); an ID older than the last N is forgotten. Safe for concurrent use.
type Dedup struct {
	mu   sync.Mutex
	seen map[uint64]struct{}
	ring []uint64
	next int
	full bool
}

// NewDedup returns a Dedup remembering n IDs (n <= 0: DefaultDedupWindow).
func NewDedup(n int) *Dedup {
	if n <= 0 {
		n = DefaultDedupWindow
	}
	return &Dedup{seen: make(map[uint64]struct{}, min(n, 1<<16)), ring: make([]uint64, n)}
}

// Seen reports whether id is among the remembered.
func (d *Dedup) Seen(id uint64) bool {
	d.mu.Lock()
	_, ok := d.seen[id]
	d.mu.Unlock()
	return ok
}

// Add remembers ids, forgetting the oldest beyond the window.
func (d *Dedup) Add(ids ...uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if _, ok := d.seen[id]; ok {
			continue
		}
		if d.full {
			delete(d.seen, d.ring[d.next])
		}
		d.ring[d.next] = id
		d.seen[id] = struct{}{}
		if d.next++; d.next == len(d.ring) {
			d.next, d.full = 0, true
		}
	}
}

// Len is the number of IDs remembered.
func (d *Dedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	// Stream is created as a publisher would if it does not exist.
	Stream StreamOptions
	// Durable names the consumer on the server. Every process consuming
	// with the same Durable is one group: each event goes to one of them.
	Durable string
	// FilterSubject, when set, takes only these events (a group per set
	// of hosts: PREFIX.node-a, PREFIX.rack1-*).
	FilterSubject string
	// AckWait is how long the server waits for an acknowledgement before
	// it delivers an event again (default 30s).
	AckWait time.Duration
	// MaxAckPending bounds the events delivered and not yet acknowledged
	// across the group (default 8192).
	MaxAckPending int
	// Batch is the most events fetched and delivered at once (default
	// event.BatchSize); MaxWait bounds the wait for a batch to fill
	// (default 500ms: the latency at a low rate).
	Batch   int
	MaxWait time.Duration
	// Dedup drops events already delivered. Share one across the
	// consumers a process runs one after the other (a reconnection), so a
	// redelivery finds the IDs (nil: a window of DefaultDedupWindow).
	Dedup *Dedup
}

// ConsumeStats count what a Consumer did.
type ConsumeStats struct {
	// Messages is the number of messages received (redeliveries too);
	// Redelivered those the server had delivered before.
	Messages, Redelivered uint64
	// Delivered counts events the sink accepted; Duplicates events
	// dropped because their ID was delivered already.
	Delivered, Duplicates uint64
	// Bad counts messages that were no event (reported as problems and
	// terminated: never delivered again).
	Bad uint64
}

// Consumer is an event.Source reading a stream through a durable pull
// consumer: at least once (a batch is acknowledged only after the sink
// accepted it; a batch the sink refused is handed back for redelivery),
// with events already delivered dropped by ID.
type Consumer struct {
	opts   ConsumerOptions
	cons   jetstream.Consumer
	stream string
	name   string
	dec    *Decoder

	msgs, redelivered, delivered, dups, bad atomic.Uint64
}

// NewConsumer makes sure the stream and the durable consumer exist and
// returns the Consumer. Processes of one group must give the same
// options: the consumer's configuration is the server's, shared.
func NewConsumer(ctx context.Context, nc *nats.Conn, o ConsumerOptions) (*Consumer, error) {
	if o.Durable == "" {
		return nil, errors.New("a NATS consumer needs a durable name (--durable)")
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = 8192
	}
	if o.Batch <= 0 {
		o.Batch = event.BatchSize
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 500 * time.Millisecond
	}
	if o.Dedup == nil {
		o.Dedup = NewDedup(0)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	s, err := EnsureStream(ctx, js, o.Stream)
	if err != nil {
		return nil, err
	}
	stream := s.CachedInfo().Config.Name
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       o.Durable,
		Description:   "ward watch detectors",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxAckPending: o.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: o.FilterSubject,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s on stream %s: %w", o.Durable, stream, err)
	}
	return &Consumer{opts: o, cons: cons, stream: stream, name: "nats:" + stream + "/" + o.Durable, dec: NewDecoder()}, nil
}

// Name implements event.Source.
func (c *Consumer) Name() string { return c.name }

// Stats returns the counters so far.
func (c *Consumer) Stats() ConsumeStats {
	return ConsumeStats{Messages: c.msgs.Load(), Redelivered: c.redelivered.Load(), Delivered: c.delivered.Load(),
		Duplicates: c.dups.Load(), Bad: c.bad.Load()}
}

// Run implements event.Source: it fetches, delivers and acknowledges
// until ctx is done (ctx.Err()), the connection fails or the sink does
// (that error; the batch is then handed back for redelivery).
func (c *Consumer) Run(ctx context.Context, sink event.Sink) error {
	batch := make([]event.Event, 0, c.opts.Batch)
	ids := make([]uint64, 0, c.opts.Batch)
	var deliver, settle []jetstream.Msg
	inBatch := map[uint64]struct{}{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The server ends the pull at MaxWait with a status the client
		// reads (no message in flight is dropped at a client-side
		// deadline); cancellation is watched here.
		mb, err := c.cons.Fetch(c.opts.Batch, jetstream.FetchMaxWait(c.opts.MaxWait))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s: fetching: %w", c.name, err)
		}
		batch, ids, deliver, settle = batch[:0], ids[:0], deliver[:0], settle[:0]
		clear(inBatch)
		in := mb.Messages()
	receive:
		for {
			var m jetstream.Msg
			var ok bool
			select {
			case m, ok = <-in:
				if !ok {
					break receive
				}
			case <-ctx.Done():
				// Hand back what was received and not delivered, for
				// another consumer of the group at once; duplicates are
				// done with.
				for _, m := range deliver {
					_ = m.Nak()
				}
				for _, m := range settle {
					_ = m.Ack()
				}
				return ctx.Err()
			}
			c.msgs.Add(1)
			md, mdErr := m.Metadata()
			if mdErr == nil && md.NumDelivered > 1 {
				c.redelivered.Add(1)
			}
			batch = append(batch, event.Event{})
			e := &batch[len(batch)-1]
			if err := c.dec.Decode(m.Data(), e); err != nil {
				batch = batch[:len(batch)-1]
				c.bad.Add(1)
				seq := uint64(0)
				if mdErr == nil {
					seq = md.Sequence.Stream
				}
				sink.Problem(event.Problem{Source: c.name, Err: fmt.Errorf("%s: message %d on %s is no event: %w", c.name, seq, m.Subject(), err)})
				_ = m.Term() // never delivered again: it would fail the same way
				continue
			}
			if e.ID != 0 {
				_, twice := inBatch[e.ID]
				if twice || c.opts.Dedup.Seen(e.ID) {
					batch = batch[:len(batch)-1]
					c.dups.Add(1)
					settle = append(settle, m)
					continue
				}
				inBatch[e.ID] = struct{}{}
				ids = append(ids, e.ID)
			}
			deliver = append(deliver, m)
		}
		ferr := mb.Error()
		if len(batch) > 0 {
			if err := sink.Deliver(batch); err != nil {
				for _, m := range deliver {
					_ = m.Nak()
				}
				return err
			}
			c.opts.Dedup.Add(ids...)
			c.delivered.Add(uint64(len(batch)))
		}
		for _, list := range [][]jetstream.Msg{deliver, settle} {
			for _, m := range list {
				if err := m.Ack(); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return fmt.Errorf("%s: acknowledging: %w", c.name, err)
				}
			}
		}
		if ferr != nil && !errors.Is(ferr, nats.ErrTimeout) && ctx.Err() == nil {
			return fmt.Errorf("%s: fetching: %w", c.name, ferr)
		}
	}
}
