package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardsec/ward/watch/event"
)

// PublisherOptions configure a Publisher.
type PublisherOptions struct {
	Stream StreamOptions
	// SubjectPrefix is the subjects' first tokens (default
	// DefaultSubjectPrefix): an event observed on node N is published to
	// PREFIX.N (N made a subject token: characters other than letters,
	// digits, - and _ become _).
	SubjectPrefix string
	// Node names events whose source gave none (default: the host name).
	Node string
	// AckTimeout bounds the wait for the server's acknowledgement of one
	// publication (default 5s).
	AckTimeout time.Duration
	// Attempts is how often an event is published before it counts as not
	// published (default 8); the waits between attempts start at Backoff
	// (default 100ms) and double up to MaxBackoff (default 5s).
	Attempts            int
	Backoff, MaxBackoff time.Duration
	// Problem, when set, is told of problems: those of the sources
	// feeding the publisher, and events it could not publish (Lost).
	Problem func(event.Problem)
}

// PublishStats count what a Publisher did.
type PublishStats struct {
	// Events is the number of events delivered to the publisher.
	Events uint64
	// Stored counts events the server stored; Duplicates those it had
	// already (the same event ID within its duplicate window).
	Stored, Duplicates uint64
	// Retries counts publications attempted again.
	Retries uint64
	// Failed counts events not published after every attempt (reported
	// as Lost problems).
	Failed uint64
	// SourceProblems and SourceLost count the problems the sources
	// reported: bad records, and events they lost.
	SourceProblems, SourceLost uint64
}

// Publisher publishes events to a JetStream stream; it is an event.Sink,
// so any source feeds it. Each event is one message whose Nats-Msg-Id is
// the event ID, so the server drops an event published twice within its
// duplicate window (a publisher restarted on the same input, a retry of a
// publication whose acknowledgement was lost). Deliver publishes the
// batch asynchronously and returns once the server acknowledged every
// event, retrying failures with backoff; what cannot be published is
// counted and reported, never silently dropped.
type Publisher struct {
	js     jetstream.JetStream
	opts   PublisherOptions
	stream string
	name   string
	done   chan struct{}
	close  sync.Once

	mu       sync.Mutex // serialises Deliver
	msgs     []*nats.Msg
	futures  []jetstream.PubAckFuture
	subjects map[string]string

	events, stored, dups, retries, failed atomic.Uint64
	srcProblems, srcLost                  atomic.Uint64
}

// NewPublisher makes sure the stream exists and holds the publisher's
// subjects, and returns the Publisher.
func NewPublisher(ctx context.Context, nc *nats.Conn, o PublisherOptions) (*Publisher, error) {
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = DefaultSubjectPrefix
	}
	if o.Node == "" {
		o.Node, _ = os.Hostname()
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 5 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 8
	}
	if o.Backoff <= 0 {
		o.Backoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if len(o.Stream.Subjects) == 0 {
		o.Stream.Subjects = []string{o.SubjectPrefix + ".>"}
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(o.AckTimeout), jetstream.WithPublishAsyncMaxPending(4*event.BatchSize))
	if err != nil {
		return nil, err
	}
	s, err := EnsureStream(ctx, js, o.Stream)
	if err != nil {
		return nil, err
	}
	stream := s.CachedInfo().Config.Name
	probe := o.SubjectPrefix + "." + token(o.Node)
	if name, err := js.StreamNameBySubject(ctx, probe); err != nil || name != stream {
		return nil, fmt.Errorf("stream %s does not hold the subject %s (subjects %v)", stream, probe, s.CachedInfo().Config.Subjects)
	}
	return &Publisher{js: js, opts: o, stream: stream, name: "nats-publish:" + stream,
		done: make(chan struct{}), subjects: map[string]string{}}, nil
}

// Name names the publisher in problems.
func (p *Publisher) Name() string { return p.name }

// Stats returns the counters so far.
func (p *Publisher) Stats() PublishStats {
	return PublishStats{Events: p.events.Load(), Stored: p.stored.Load(), Duplicates: p.dups.Load(),
		Retries: p.retries.Load(), Failed: p.failed.Load(), SourceProblems: p.srcProblems.Load(), SourceLost: p.srcLost.Load()}
}

// Close stops retries in progress (their events count as failed) and
// waits for nothing else; the connection stays the caller's.
func (p *Publisher) Close() error {
	p.close.Do(func() { close(p.done) })
	return nil
}

// Problem implements event.Sink: the sources' problems are counted and
// passed on.
func (p *Publisher) Problem(pr event.Problem) {
	if pr.Lost > 0 {
		p.srcLost.Add(pr.Lost)
	} else {
		p.srcProblems.Add(1)
	}
	if p.opts.Problem != nil {
		p.opts.Problem(pr)
	}
}

// subject returns the subject of events observed on node.
func (p *Publisher) subject(node string) string {
	if node == "" {
		node = p.opts.Node
	}
	s, ok := p.subjects[node]
	if !ok {
		s = p.opts.SubjectPrefix + "." + token(node)
		if len(p.subjects) < 1<<12 {
			p.subjects[node] = s
		}
	}
	return s
}

// Deliver implements event.Sink. It returns an error only when the
// publisher is closed; events that could not be published are counted
// and reported as a Problem with Lost set.
func (p *Publisher) Deliver(batch []event.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return errors.New("publisher closed")
	default:
	}
	p.events.Add(uint64(len(batch)))
	// One buffer for the batch's encodings: the messages point into it.
	// It is never reused: the client may still resend a message of this
	// batch after Deliver returned (its own retry on no responders).
	buf := make([]byte, 0, len(batch)*96)
	ends := make([]int, 0, len(batch))
	for i := range batch {
		buf = Append(buf, &batch[i])
		ends = append(ends, len(buf))
	}
	p.msgs = p.msgs[:0]
	start := 0
	for i := range batch {
		m := &nats.Msg{Subject: p.subject(batch[i].Node), Data: buf[start:ends[i]:ends[i]], Header: nats.Header{}}
		if id := batch[i].ID; id != 0 {
			m.Header.Set(jetstream.MsgIDHeader, msgID(id))
		}
		start = ends[i]
		p.msgs = append(p.msgs, m)
	}
	pending := p.msgs
	wait := p.opts.Backoff
	var lastErr error
retry:
	for attempt := 1; ; attempt++ {
		if pending, lastErr = p.publish(pending); len(pending) == 0 {
			return nil
		}
		if attempt >= p.opts.Attempts {
			break
		}
		p.retries.Add(uint64(len(pending)))
		select {
		case <-p.done:
			lastErr = fmt.Errorf("publisher closed while retrying: %w", lastErr)
			break retry
		case <-time.After(wait):
		}
		wait = min(2*wait, p.opts.MaxBackoff)
	}
	n := uint64(len(pending))
	p.failed.Add(n)
	pr := event.Problem{Source: p.name, Lost: n,
		Err: fmt.Errorf("%d events not published to stream %s after %d attempts: %w", n, p.stream, p.opts.Attempts, lastErr)}
	if p.opts.Problem != nil {
		p.opts.Problem(pr)
	}
	return nil
}

// publish publishes msgs asynchronously and waits for every
// acknowledgement; it returns the messages that failed and the last
// error.
func (p *Publisher) publish(msgs []*nats.Msg) ([]*nats.Msg, error) {
	p.futures = p.futures[:0]
	var failed []*nats.Msg
	var lastErr error
	for _, m := range msgs {
		f, err := p.js.PublishMsgAsync(m)
		if err != nil {
			failed, lastErr = append(failed, m), err
			continue
		}
		p.futures = append(p.futures, f)
	}
	// The async publisher times each acknowledgement out (AckTimeout), so
	// every future resolves; the extra timer guards against a lost one.
	guard := time.NewTimer(2*p.opts.AckTimeout + time.Second)
	defer guard.Stop()
	for _, f := range p.futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				p.dups.Add(1)
			} else {
				p.stored.Add(1)
			}
		case err := <-f.Err():
			failed, lastErr = append(failed, f.Msg()), err
		case <-guard.C:
			failed, lastErr = append(failed, f.Msg()), errors.New("no acknowledgement from the server")
		}
	}
	return failed, lastErr
}

// msgID renders an event ID as its Nats-Msg-Id.
func msgID(id uint64) string {
	var b [16]byte
	s := strconv.AppendUint(b[:0], id, 16)
	return string(s)
}

// token makes s one subject token: letters, digits, - and _ stay, any
// other byte becomes _; "" becomes "unknown".
func token(s string) string {
	if s == "" {
		return "unknown"
	}
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Publish runs every source into p until they all end or ctx is done (a
// source's failure stops the others) and returns the sources' errors;
// cancellation is no error. p stays open.
func Publish(ctx context.Context, p *Publisher, sources ...event.Source) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx, p); err != nil && !errors.Is(err, context.Canceled) {
				errs[i] = fmt.Errorf("%s: %w", s.Name(), err)
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
