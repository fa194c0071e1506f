package dockerinv_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/client"

	"github.com/wardsec/ward/dockerinv"
)

const idEv = "6a8c2fb3f9b139843e8b5e57666ccf45d4d417293c1ce492f85c7d310dddefd0"

// step is an event as the tests compare it.
type step struct {
	Kind              dockerinv.Kind
	ID, Name, Network string
	Retry             time.Duration
	HasTime, HasErr   bool
	ConnectionFailed  bool
}

func stepOf(e dockerinv.Event) step {
	return step{Kind: e.Kind, ID: e.ContainerID, Name: e.Container, Network: e.Network, Retry: e.Retry,
		HasTime: !e.Time.IsZero(), HasErr: e.Err != nil, ConnectionFailed: client.IsErrConnectionFailed(e.Err)}
}

// The recorded events of a container's life (testdata/engine/shop/
// events.jsonl: run, rename, network connect and disconnect, stop, rm),
// then the stream ends: Watch reports what changes an inventory, in
// order, and the end of the stream.
func TestWatchRecorded(t *testing.T) {
	e, c, _, _ := startEngine(t, "shop", nil)
	var query url.Values
	base := e.events
	e.events = func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.Query()
		base(w, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dockerinv.SetBackoff(c, time.Second, 8*time.Second, func(context.Context, time.Duration) error {
		cancel() // stop after the first stream
		return context.Canceled
	})
	var got []step
	err := c.Watch(ctx, func(e dockerinv.Event) { got = append(got, stepOf(e)) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v, want context.Canceled", err)
	}
	ev := func(k dockerinv.Kind, name, network string) step {
		return step{Kind: k, ID: idEv, Name: name, Network: network, HasTime: true}
	}
	want := []step{
		{Kind: dockerinv.Resync},
		ev(dockerinv.Connect, "", "wardrec_back"),
		ev(dockerinv.Start, "wardrec-ev", ""),
		ev(dockerinv.Rename, "wardrec-ev2", ""),
		ev(dockerinv.Connect, "", "wardrec_front"),
		ev(dockerinv.Disconnect, "", "wardrec_front"),
		ev(dockerinv.Disconnect, "", "wardrec_front"),
		ev(dockerinv.Die, "wardrec-ev2", ""),
		ev(dockerinv.Disconnect, "", "wardrec_back"),
		ev(dockerinv.Destroy, "wardrec-ev2", ""),
		{Kind: dockerinv.StreamError, Retry: time.Second, HasErr: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// The daemon is asked for these events only.
	wantFilters := `{"event":{"connect":true,"destroy":true,"die":true,"disconnect":true,"rename":true,"start":true},"type":{"container":true,"network":true}}`
	if f := query.Get("filters"); f != wantFilters {
		t.Errorf("filters = %s, want %s", f, wantFilters)
	}
}

// The daemon fails, goes away and comes back; the stream ends and opens
// again: Watch retries with exponential backoff, capped, back to the
// minimum once a stream has opened, and says Resync on each opening.
func TestWatchReconnects(t *testing.T) {
	e, c, socket, stopFirst := startEngine(t, "shop", nil)
	lines := bytes.Split(bytes.TrimSpace(e.recorded), []byte("\n"))
	stream := func(n int, hold bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			for _, l := range lines[:n] {
				_, _ = w.Write(append(l, '\n'))
			}
			w.(http.Flusher).Flush()
			if hold {
				<-r.Context().Done()
			}
		}
	}
	e.events = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusInternalServerError, []byte(`{"message":"daemon busy"}`))
	}
	stopSecond := func() {}
	t.Cleanup(func() { stopSecond() })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sleeps := 0
	dockerinv.SetBackoff(c, time.Second, 4*time.Second, func(ctx context.Context, d time.Duration) error {
		sleeps++
		switch sleeps {
		case 1: // the daemon goes away: its socket is gone
			e.mu.Lock()
			e.events = stream(3, false)
			e.mu.Unlock()
			stopFirst()
		case 4: // it comes back, streams three events and ends the stream
			_, stop, err := e.serve(socket)
			if err != nil {
				t.Error(err)
				return err
			}
			stopSecond = stop
		case 5: // next time it holds the stream open
			e.mu.Lock()
			e.events = stream(3, true)
			e.mu.Unlock()
		}
		return ctx.Err()
	})
	var got []step
	err := c.Watch(ctx, func(ev dockerinv.Event) {
		got = append(got, stepOf(ev))
		if len(got) > 1 && ev.Kind == dockerinv.Start && sleeps == 5 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v, want context.Canceled", err)
	}
	fail := func(retry time.Duration, gone bool) step {
		return step{Kind: dockerinv.StreamError, Retry: retry, HasErr: true, ConnectionFailed: gone}
	}
	opened := []step{
		{Kind: dockerinv.Resync},
		{Kind: dockerinv.Connect, ID: idEv, Network: "wardrec_back", HasTime: true},
		{Kind: dockerinv.Start, ID: idEv, Name: "wardrec-ev", HasTime: true},
	}
	want := []step{fail(time.Second, false), fail(2*time.Second, true), fail(4*time.Second, true), fail(4*time.Second, true)}
	want = append(want, opened...)
	want = append(want, fail(time.Second, false))
	want = append(want, opened...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
