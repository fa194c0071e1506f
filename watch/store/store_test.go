package store

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func report(id, det, state string, last time.Time, count uint64) *detect.Alert {
	return &detect.Alert{ID: id, Detector: det, Severity: detect.High, State: state, Summary: det + " " + id,
		Source: detect.Peer{Workload: "shop/Deployment/web", Identity: "resolved"}, Dest: detect.Peer{Address: "203.0.113.9", Identity: "external"},
		First: t0.Format(time.RFC3339Nano), Last: last.Format(time.RFC3339Nano), Count: count}
}

func open(t *testing.T, path string, cfg Config) *Store {
	t.Helper()
	s, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func closeStore(t *testing.T, s *Store) Stats {
	t.Helper()
	st, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func ids(as []Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s %s %s %d", a.ID, a.Detector, a.State, a.Count))
	}
	return out
}

// TestAlerts: every report is kept, the latest of each incident; the
// listing filters and orders them, newest first; the report survives
// whole.
func TestAlerts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "ward", "watch.db")
	now := func() time.Time { return t0.Add(time.Hour) }
	s := open(t, path, Config{Now: now})
	s.Alert(report("a", "port-scan", detect.Opened, t0.Add(1*time.Minute), 15), nil)
	s.Alert(report("b", "new-peer", detect.Opened, t0.Add(2*time.Minute), 1), nil)
	s.Alert(report("a", "port-scan", detect.Updated, t0.Add(3*time.Minute), 30), nil)
	s.Alert(report("c", "syn-flood", detect.Opened, t0.Add(4*time.Minute), 500), nil)
	s.Alert(report("a", "port-scan", detect.Closed, t0.Add(5*time.Minute), 31), nil)
	if st := closeStore(t, s); st.Reports != 5 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]os.FileMode{false: 0o600, true: 0o700}[fi.IsDir()]; fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	r := open(t, path, Config{Existing: true, Now: now})
	defer closeStore(t, r)
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"all, newest first, the latest report of each", Query{}, []string{"a port-scan closed 31", "c syn-flood open 500", "b new-peer open 1"}},
		{"one detector", Query{Detector: "new-peer"}, []string{"b new-peer open 1"}},
		{"since", Query{Since: t0.Add(4 * time.Minute)}, []string{"a port-scan closed 31", "c syn-flood open 500"}},
		{"no such detector", Query{Detector: "icmp-flood"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Alerts(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("got %q, want %q", ids(got), tc.want)
			}
		})
	}
	got, _ := r.Alerts(Query{Detector: "port-scan"})
	if len(got) != 1 || got[0].Source != "shop/Deployment/web" || got[0].Dest != "203.0.113.9" || !got[0].First.Equal(t0) ||
		!got[0].Last.Equal(t0.Add(5*time.Minute)) || !strings.Contains(string(got[0].Report), `"state":"closed"`) {
		t.Errorf("got %+v", got)
	}
}

func sortedSnap(s detect.BaselineSnapshot) detect.BaselineSnapshot {
	slices.SortFunc(s.Listeners, func(a, b detect.ListenerKey) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	slices.SortFunc(s.Peers, func(a, b detect.PeerKey) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return s
}

// TestBaselineRoundTrip: what the baseline learned, in changes or whole,
// reads back as one snapshot; the earliest start wins; keys are not
// duplicated.
func TestBaselineRoundTrip(t *testing.T) {
	l1 := detect.ListenerKey{Workload: "shop/Deployment/api", Proto: event.TCP, Port: 8080}
	l2 := detect.ListenerKey{Workload: "shop/StatefulSet/db", Proto: event.TCP, Port: 5432}
	p1 := detect.PeerKey{Src: "shop/Deployment/web", Dst: "shop/Deployment/api", Proto: event.TCP, Port: 8080}
	p2 := detect.PeerKey{Src: "shop/Deployment/web", Dst: "external 203.0.113.0/24", Proto: event.ICMP}
	for _, tc := range []struct {
		name    string
		changes []detect.BaselineSnapshot
		whole   *detect.BaselineSnapshot
		want    detect.BaselineSnapshot
	}{
		{"nothing learned", nil, nil, detect.BaselineSnapshot{}},
		{"changes", []detect.BaselineSnapshot{{Start: t0, Listeners: []detect.ListenerKey{l1}, Peers: []detect.PeerKey{p1}}, {Listeners: []detect.ListenerKey{l2}, Peers: []detect.PeerKey{p2}}}, nil,
			detect.BaselineSnapshot{Start: t0, Listeners: []detect.ListenerKey{l1, l2}, Peers: []detect.PeerKey{p1, p2}}},
		{"changes then the whole: no duplicates, the earliest start", []detect.BaselineSnapshot{{Start: t0.Add(time.Minute), Listeners: []detect.ListenerKey{l1}}},
			&detect.BaselineSnapshot{Start: t0, Listeners: []detect.ListenerKey{l1, l2}, Peers: []detect.PeerKey{p1}},
			detect.BaselineSnapshot{Start: t0, Listeners: []detect.ListenerKey{l1, l2}, Peers: []detect.PeerKey{p1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "watch.db")
			s := open(t, path, Config{})
			for _, c := range tc.changes {
				s.Learned(c)
			}
			if tc.whole != nil {
				if err := s.SaveBaseline(*tc.whole); err != nil {
					t.Fatal(err)
				}
			}
			closeStore(t, s)
			r := open(t, path, Config{})
			defer closeStore(t, r)
			got, err := r.Baseline()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := sortedSnap(got), sortedSnap(tc.want); !got.Start.Equal(want.Start) || !slices.Equal(got.Listeners, want.Listeners) || !slices.Equal(got.Peers, want.Peers) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestRetention: at Open, incidents whose last time is older than the
// retention are deleted, and only those.
func TestRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watch.db")
	s := open(t, path, Config{Now: func() time.Time { return t0 }})
	for i, age := range []time.Duration{0, 24 * time.Hour, 29 * 24 * time.Hour, 31 * 24 * time.Hour, 90 * 24 * time.Hour} {
		s.Alert(report(fmt.Sprint(i), "port-scan", detect.Closed, t0.Add(-age), 1), nil)
	}
	s.Learned(detect.BaselineSnapshot{Start: t0.Add(-90 * 24 * time.Hour), Listeners: []detect.ListenerKey{{Workload: "w", Proto: event.TCP, Port: 1}}})
	closeStore(t, s)
	for _, tc := range []struct {
		name      string
		retention time.Duration
		want      []string
		pruned    uint64
	}{
		{"the default, 30 days", 0, []string{"0", "1", "2"}, 2},
		{"a day, later", 25 * time.Hour, []string{"0", "1"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, path, Config{Retention: tc.retention, Now: func() time.Time { return t0 }})
			got, err := s.Alerts(Query{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range got {
				names = append(names, a.ID)
			}
			b, _ := s.Baseline()
			if st := closeStore(t, s); !slices.Equal(names, tc.want) || st.Pruned != tc.pruned || len(b.Listeners) != 1 {
				t.Errorf("kept %q, pruned %d, baseline %+v; want %q, %d, the baseline kept", names, st.Pruned, b, tc.want, tc.pruned)
			}
		})
	}
}

// TestOpenErrors: what is not a ward watch store of a known version is
// refused, with an error naming the file, and left as it was.
func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, path string)
		existing bool
		want     string
	}{
		{"garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not a database at all\n", 200)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false, "not a ward watch store, or a corrupt one"},
		{"a truncated store", func(t *testing.T, path string) {
			closeStore(t, open(t, path, Config{}))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := 16; i < 100; i++ { // the header past the magic string
				data[i] = 0xff
			}
			if err := os.WriteFile(path, data[:len(data)/2], 0o600); err != nil {
				t.Fatal(err)
			}
		}, false, "not a ward watch store"},
		{"another application's database", func(t *testing.T, path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE notes (body TEXT)"); err != nil {
				t.Fatal(err)
			}
		}, false, "another application's SQLite database"},
		{"a newer schema", func(t *testing.T, path string) {
			closeStore(t, open(t, path, Config{}))
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("UPDATE schema_version SET version = 99"); err != nil {
				t.Fatal(err)
			}
		}, false, "store schema version 99 is newer than this ward's (1)"},
		{"no store to read", func(*testing.T, string) {}, true, "no ward watch store"},
		{"an empty file to read", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, true, "not a ward watch store: an empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "watch.db")
			tc.setup(t, path)
			before, _ := os.ReadFile(path)
			s, err := Open(path, Config{Existing: tc.existing})
			if err == nil {
				closeStore(t, s)
				t.Fatal("opened")
			}
			var pe *srcpos.Error
			if !errors.As(err, &pe) || pe.File != path || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %s: ...%s...", err, path, tc.want)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("the file was changed")
			}
		})
	}
}

// TestConcurrentReader: a reader lists incidents while the writer writes
// them (WAL: neither waits for the other to finish), and sees them all
// at the end.
func TestConcurrentReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watch.db")
	const n = 400
	w := open(t, path, Config{Batch: 8})
	r := open(t, path, Config{Existing: true})
	var wg sync.WaitGroup
	wg.Add(1)
	var readErr error
	stop := make(chan struct{})
	go func() {
		defer wg.Done()
		prev := 0
		for {
			got, err := r.Alerts(Query{})
			if err != nil {
				readErr = err
				return
			}
			if len(got) < prev {
				readErr = fmt.Errorf("the listing shrank from %d to %d", prev, len(got))
				return
			}
			prev = len(got)
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	for i := range n {
		w.Alert(report(fmt.Sprint(i), "port-scan", detect.Opened, t0.Add(time.Duration(i)*time.Second), 1), nil)
	}
	st := closeStore(t, w)
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	got, err := r.Alerts(Query{})
	closeStore(t, r)
	if err != nil || uint64(len(got)) != st.Reports || st.Reports+st.Dropped != n || st.Dropped != 0 {
		t.Errorf("read %d, %v; stats %+v", len(got), err, st)
	}
}

// TestStalledWriter: with the database locked by another writer, the
// queue fills and further writes are dropped and counted, never waited
// for; once the lock goes, what was queued is written.
func TestStalledWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watch.db")
	s := open(t, path, Config{Queue: 4, Batch: 4, BusyTimeout: time.Minute})
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
	const n = 100
	for i := range n {
		s.Alert(report(fmt.Sprint(i), "port-scan", detect.Opened, t0, 1), nil)
	}
	s.Learned(detect.BaselineSnapshot{Start: t0})
	st := s.Stats()
	if st.Dropped < n-4-4 || !s.BaselineDropped() {
		t.Errorf("stalled: %+v, baseline dropped %v: want the reports beyond the queue and a batch dropped", st, s.BaselineDropped())
	}
	if _, err := conn.ExecContext(t.Context(), "COMMIT"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	st = closeStore(t, s)
	r := open(t, path, Config{Existing: true})
	got, _ := r.Alerts(Query{})
	closeStore(t, r)
	if st.Reports+st.Dropped != n || uint64(len(got)) != st.Reports || st.Reports == 0 {
		t.Errorf("stats %+v, %d stored: every report written or dropped", st, len(got))
	}
}
