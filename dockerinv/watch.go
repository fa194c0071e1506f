package dockerinv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Kind is what an Event reports.
type Kind int

const (
	// Resync: the event stream is open, for the first time or again
	// after a failure. Events may have been missed: read the inventory
	// again.
	Resync Kind = iota
	// StreamError: the event stream failed or could not be opened (Err
	// says why); Watch opens it again after Retry.
	StreamError
	// Start, Die, Destroy, Rename: a container started, stopped (or
	// crashed), was removed, was renamed.
	Start
	Die
	Destroy
	Rename
	// Connect, Disconnect: a container was attached to or detached from a
	// network.
	Connect
	Disconnect
)

var kindNames = [...]string{"resync", "stream-error", "start", "die", "destroy", "rename", "connect", "disconnect"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Event is something that may change the inventory, or a change of the
// event stream itself.
type Event struct {
	Kind Kind
	// ContainerID is the full ID of the container (all kinds but Resync
	// and StreamError).
	ContainerID string
	// Container is the container's name, for Start, Die, Destroy and
	// Rename (its new name).
	Container string
	// Network is the network's name, for Connect and Disconnect.
	Network string
	// Time is when the daemon saw the event.
	Time time.Time
	// Err and Retry: for StreamError, why, and how long Watch waits
	// before it reconnects.
	Err   error
	Retry time.Duration
}

func (e Event) String() string {
	switch e.Kind {
	case Resync:
		return "docker events: connected"
	case StreamError:
		return fmt.Sprintf("docker events: %v (reconnecting in %v)", e.Err, e.Retry)
	case Connect, Disconnect:
		return fmt.Sprintf("network %s: %s container %s", e.Network, e.Kind, shortID(e.ContainerID))
	}
	return fmt.Sprintf("container %s (%s): %s", e.Container, shortID(e.ContainerID), e.Kind)
}

// actions maps the daemon's (type, action) to a Kind.
var actions = map[[2]string]Kind{
	{"container", "start"}:    Start,
	{"container", "die"}:      Die,
	{"container", "destroy"}:  Destroy,
	{"container", "rename"}:   Rename,
	{"network", "connect"}:    Connect,
	{"network", "disconnect"}: Disconnect,
}

// Watch follows the daemon's events and calls fn, from one goroutine, in
// order, for each Event, until ctx is done; it then returns ctx's error.
// It calls fn with Resync each time the stream opens, the first time
// included, and with StreamError each time it fails or cannot be opened,
// then reconnects after an exponential backoff (250 ms doubling up to
// 30 s; back to 250 ms once the stream opens again). fn runs while the
// stream waits, so a slow fn delays later events but loses none.
func (c *Client) Watch(ctx context.Context, fn func(Event)) error {
	filters := client.Filters{}.
		Add("type", "container", "network").
		Add("event", "start", "die", "destroy", "rename", "connect", "disconnect")
	delay := c.minBackoff
	for {
		err := c.stream(ctx, filters, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err.opened {
			delay = c.minBackoff
		}
		fn(Event{Kind: StreamError, Err: err, Retry: delay})
		if err := c.sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, c.maxBackoff)
	}
}

// streamError is why a stream ended, and whether it had opened.
type streamError struct {
	err    error
	opened bool
}

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

// stream opens the event stream once and follows it until it fails.
func (c *Client) stream(ctx context.Context, filters client.Filters, fn func(Event)) *streamError {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var opened atomic.Bool
	// The response hook runs before Events returns (Events waits for the
	// response), so opened is set, or never will be, once it has.
	res := c.api.Events(context.WithValue(ctx, connectedKey{}, func() { opened.Store(true) }),
		client.EventsListOptions{Filters: filters})
	if opened.Load() {
		fn(Event{Kind: Resync})
	}
	for {
		select {
		case m := <-res.Messages:
			if e, ok := event(m); ok {
				fn(e)
			}
		case err := <-res.Err:
			if err == nil {
				err = errors.New("event stream closed")
			}
			if !opened.Load() {
				err = fmt.Errorf("opening the event stream: %w", err)
			} else {
				err = fmt.Errorf("event stream ended: %w", err)
			}
			return &streamError{err: err, opened: opened.Load()}
		}
	}
}

// event maps a daemon event; ok is false for events Watch does not report.
func event(m events.Message) (Event, bool) {
	kind, ok := actions[[2]string{string(m.Type), string(m.Action)}]
	if !ok {
		return Event{}, false
	}
	e := Event{Kind: kind, ContainerID: m.Actor.ID}
	if m.TimeNano != 0 {
		e.Time = time.Unix(0, m.TimeNano)
	} else if m.Time != 0 {
		e.Time = time.Unix(m.Time, 0)
	}
	if m.Type == events.NetworkEventType {
		e.ContainerID = m.Actor.Attributes["container"]
		e.Network = m.Actor.Attributes["name"]
	} else {
		e.Container = m.Actor.Attributes["name"]
	}
	return e, true
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// connectedKey is the context key of the function Watch passes down to
// learn that the daemon accepted its /events request.
type connectedKey struct{}

// connectedHook sees every response of the daemon; it tells Watch when
// the event stream was opened (status 200).
func connectedHook(resp *http.Response) {
	// Version negotiation may ping first, with the same context.
	if resp.Request == nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/events") {
		return
	}
	if f, ok := resp.Request.Context().Value(connectedKey{}).(func()); ok {
		f()
	}
}
