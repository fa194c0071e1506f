package watch

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/store"
)

// TestStoreKeepsBaseline: a pipeline restarted on the same store keeps
// the baseline the first run learned: two hours later, past the learning
// hour, the conversations learned raise nothing and a new one raises
// new-peer; without the store the second run learns anew and raises
// nothing. Every alert report is stored, the latest of each incident.
func TestStoreKeepsBaseline(t *testing.T) {
	cfg, tab, eng := setup(t)
	cfg.Policy.Enabled, cfg.Egress.Enabled = false, false // their own tests
	day := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	syn := func(at time.Duration, src, dst string, port uint16) event.Event {
		return event.Event{Time: day.Add(at).UnixNano(), Kind: event.Flow, Proto: event.TCP, Flags: event.SYN, Verdict: event.Forwarded,
			Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: 40000, DstPort: port}
	}
	const web, api, db = "10.244.0.10", "10.244.0.20", "10.244.0.30"
	first := []event.Event{syn(0, web, api, 8080), syn(time.Minute, api, db, 5432)}
	run := func(t *testing.T, st *store.Store, evs []event.Event) []string {
		t.Helper()
		var alerts bytes.Buffer
		p, err := New(Options{Config: cfg, Table: tab, Engine: eng, Alerts: &alerts, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Deliver(evs); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(alerts.String()), "\n") {
			var a struct {
				Detector, State string
				Source          struct{ Workload string }
				Dest            struct{ Workload string } `json:"destination"`
			}
			if l != "" && json.Unmarshal([]byte(l), &a) == nil && a.State == detect.Opened {
				got = append(got, a.Detector+" "+a.Source.Workload+" > "+a.Dest.Workload)
			}
		}
		return got
	}
	for _, tc := range []struct {
		name   string
		stored bool
		second []event.Event
		want   []string
	}{
		{"stored: the learned conversations raise nothing", true, []event.Event{syn(2*time.Hour, web, api, 8080), syn(2*time.Hour, api, db, 5432)}, nil},
		{"stored: a new conversation raises new-peer", true, []event.Event{syn(2*time.Hour, web, api, 8080), syn(2*time.Hour, web, db, 5432)},
			[]string{"new-peer shop/Pod/web-1 > shop/Pod/db-0"}},
		{"no store: the second run learns anew", false, []event.Event{syn(2*time.Hour, web, api, 8080), syn(2*time.Hour, web, db, 5432)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "watch.db")
			st, err := store.Open(path, store.Config{Now: func() time.Time { return day }})
			if err != nil {
				t.Fatal(err)
			}
			if got := run(t, st, slices.Clone(first)); len(got) != 0 {
				t.Fatalf("first run raised %q", got)
			}
			if stats, err := st.Close(); err != nil || stats.Keys != 4 {
				t.Fatalf("first run stored %+v, %v: want 2 listeners and 2 peers", stats, err)
			}
			var second *store.Store
			if tc.stored {
				if second, err = store.Open(path, store.Config{Now: func() time.Time { return day }}); err != nil {
					t.Fatal(err)
				}
			}
			got := run(t, second, slices.Clone(tc.second))
			if !slices.Equal(got, tc.want) {
				t.Errorf("second run raised %q, want %q", got, tc.want)
			}
			if second == nil {
				return
			}
			if _, err := second.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := store.Open(path, store.Config{Existing: true})
			if err != nil {
				t.Fatal(err)
			}
			stored, err := r.Alerts(store.Query{})
			if _, cerr := r.Close(); err != nil || cerr != nil {
				t.Fatal(err, cerr)
			}
			var names []string
			for _, a := range stored {
				names = append(names, a.Source+" > "+a.Dest+" "+a.State)
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, w[len("new-peer "):]+" closed")
			}
			if !slices.Equal(names, want) {
				t.Errorf("stored %q, want %q (the latest report: closed at the end)", names, want)
			}
		})
	}
}

// TestStoreNeverBlocks: a store whose writer is stalled (its database
// locked by another writer) never holds up the detectors: the alert
// reports and baseline changes beyond its queue are dropped and counted,
// and the whole baseline is saved at the end.
func TestStoreNeverBlocks(t *testing.T) {
	cfg, tab, eng := setup(t)
	cfg.Policy.Enabled, cfg.Egress.Enabled = false, false
	path := filepath.Join(t.TempDir(), "watch.db")
	st, err := store.Open(path, store.Config{Queue: 1, Batch: 1, BusyTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Another writer holds the database's write lock.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(60000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Config: cfg, Table: tab, Engine: eng, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC).UnixNano()
	// Forty batches, each learning a new peer (an external /24 each).
	for i := range 40 {
		e := event.Event{Time: day + int64(i)*int64(time.Second), Kind: event.Flow, Proto: event.TCP, Flags: event.SYN, Verdict: event.Forwarded,
			Src: netip.MustParseAddr("10.244.0.10"), Dst: netip.AddrFrom4([4]byte{198, 51, byte(i), 1}), DstPort: 443}
		if err := p.Deliver([]event.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if !st.BaselineDropped() || st.Stats().BaselineDropped == 0 {
		t.Fatalf("stats %+v: the changes beyond the queue were not dropped", st.Stats())
	}
	if _, err := conn.ExecContext(t.Context(), "COMMIT"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	if err := p.Close(); err != nil { // saves the whole baseline: changes were dropped
		t.Fatal(err)
	}
	if _, err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := store.Open(path, store.Config{Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.Baseline()
	if _, cerr := r.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	if len(snap.Peers) != 40 || snap.Start.UnixNano() != day {
		t.Errorf("stored baseline: %d peers from %v, want 40 from the first event", len(snap.Peers), snap.Start)
	}
}
