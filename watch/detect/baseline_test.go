package detect

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/watch/event"
)

// TestBaseline: an hour learned from the first event, then what is new
// (a listener, a peer) raises its alert once; what was learned, a pod of
// a learned workload and an external address in a learned /24 do not.
func TestBaseline(t *testing.T) {
	fx := loadShop(t)
	const (
		web, api, db, tool = "10.244.0.10", "10.244.0.20", "10.244.0.30", "10.244.1.5"
	)
	syn := func(at time.Duration, src, dst string, port uint16) event.Event {
		return ev(at, src, dst, port, event.TCP, event.Forwarded, event.SYN)
	}
	// The learned hour: web calls api, api calls db, web calls out to one
	// /24 of the internet.
	var hour []event.Event
	for m := time.Duration(0); m < 60*time.Minute; m += time.Minute {
		hour = append(hour, syn(m, web, api, 8080), syn(m+time.Second, api, db, 5432), syn(m+2*time.Second, web, "203.0.113.9", 443))
	}
	cfg := Default()
	cfg.Egress.Enabled = false // its own detector, tested elsewhere
	cfg.Policy.Enabled = false
	after := 61 * time.Minute
	for _, tc := range []struct {
		name string
		more []event.Event
		want []string
	}{
		{"the same traffic: nothing", []event.Event{syn(after, web, api, 8080), syn(after, api, db, 5432)}, nil},
		{"an external address in a learned /24: nothing", []event.Event{syn(after, web, "203.0.113.200", 443)}, nil},
		{"a new port on db: new listener and new peer", []event.Event{syn(after, api, db, 6379)},
			[]string{"new-listener shop/Pod/api-1 > shop/Pod/db-0 1", "new-peer shop/Pod/api-1 > shop/Pod/db-0 1"}},
		{"a new caller of a known listener: new peer only", []event.Event{syn(after, tool, db, 5432)},
			[]string{"new-peer dev/Pod/tool > shop/Pod/db-0 1"}},
		{"a new external /24: new peer", []event.Event{syn(after, web, "198.51.100.7", 443)},
			[]string{"new-peer shop/Pod/web-1 > 198.51.100.7 1"}},
		{"once each: repeated, it joins the baseline", []event.Event{syn(after, tool, db, 5432), syn(after+2*time.Hour, tool, db, 5432)},
			[]string{"new-peer dev/Pod/tool > shop/Pod/db-0 1"}},
		{"within the learned hour everything is learned", []event.Event{syn(30*time.Minute, tool, db, 5432)}, nil},
		{"drops are not connections", []event.Event{dropped(ev(after, tool, db, 22, event.TCP, event.Dropped, event.SYN))}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := append(slices.Clone(hour), tc.more...)
			slices.SortStableFunc(evs, func(a, b event.Event) int { return int(a.Time - b.Time) })
			got, _, _ := run(t, fx, cfg, nil, evs)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		c := cfg
		c.Baseline.Enabled = false
		if got, _, _ := run(t, fx, c, nil, append(slices.Clone(hour), syn(after, api, db, 6379))); len(got) != 0 {
			t.Errorf("got %q", got)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := cfg
		c.Limits.MaxTracked = 2
		got, _, d := run(t, fx, c, nil, append(slices.Clone(hour), syn(after, api, db, 6379)))
		if d.Stats().Untracked == 0 || !slices.ContainsFunc(got, func(s string) bool { return len(s) > 18 && s[:18] == "detector-saturated" }) {
			t.Errorf("got %q, untracked %d: a full baseline must be counted and alerted", got, d.Stats().Untracked)
		}
	})
}

func TestBaselineConfig(t *testing.T) {
	c, err := ParseConfig("w.yaml", []byte("baseline: {learn: 30m, newPeer: false}\n"))
	if err != nil || c.Baseline.Learn != 30*time.Minute || c.Baseline.NewPeer || !c.Baseline.NewListener || !c.Baseline.Enabled {
		t.Errorf("%+v, %v", c.Baseline, err)
	}
	if _, err := ParseConfig("w.yaml", []byte("portScan: {}\nbaseline: {learn: 0s}\n")); err == nil || !strings.Contains(err.Error(), "w.yaml:2") {
		t.Errorf("a zero learning window: %v", err)
	}
}

// TestBaselineRestore: a baseline learned in one run and restored into
// the next (Baseline, or the changes BaselineChanges reported, then
// RestoreBaseline) judges the later events as one continuous run does.
func TestBaselineRestore(t *testing.T) {
	fx := loadShop(t)
	const web, api, db, tool = "10.244.0.10", "10.244.0.20", "10.244.0.30", "10.244.1.5"
	syn := func(at time.Duration, src, dst string, port uint16) event.Event {
		return ev(at, src, dst, port, event.TCP, event.Forwarded, event.SYN)
	}
	cfg := Default()
	cfg.Egress.Enabled, cfg.Policy.Enabled = false, false
	first := []event.Event{syn(0, web, api, 8080), syn(10*time.Minute, api, db, 5432)}
	for _, tc := range []struct {
		name   string
		later  []event.Event
		raises int
	}{
		{"learned: nothing", []event.Event{syn(2*time.Hour, web, api, 8080), syn(2*time.Hour, api, db, 5432)}, 0},
		{"new: new-listener and new-peer", []event.Event{syn(2*time.Hour, api, db, 6379), syn(2*time.Hour, tool, db, 5432)}, 3},
		{"still learning at the restart: learned", []event.Event{syn(30*time.Minute, tool, db, 5432), syn(2*time.Hour, tool, db, 5432)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, _, _ := run(t, fx, cfg, nil, append(slices.Clone(first), tc.later...))
			if len(want) != tc.raises {
				t.Fatalf("one run raised %q, want %d alerts", want, tc.raises)
			}
			for _, how := range []string{"whole", "changes"} {
				var snap BaselineSnapshot
				_, _, d1 := runWith(t, fx, cfg, nil, slices.Clone(first), func(d *Detectors) { d.TrackBaseline() })
				if how == "whole" {
					snap = d1.Baseline()
				} else {
					snap = d1.BaselineChanges()
					if again := d1.BaselineChanges(); !again.Empty() {
						t.Errorf("changes reported twice: %+v", again)
					}
				}
				if snap.Start.IsZero() || len(snap.Listeners) != 2 || len(snap.Peers) != 2 {
					t.Fatalf("%s: snapshot %+v", how, snap)
				}
				got, _, _ := runWith(t, fx, cfg, nil, slices.Clone(tc.later), func(d *Detectors) { d.RestoreBaseline(snap) })
				if !slices.Equal(got, want) {
					t.Errorf("%s: restored run got %q, one run %q", how, got, want)
				}
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		c := cfg
		c.Limits.MaxTracked = 1
		_, _, d1 := run(t, fx, cfg, nil, slices.Clone(first))
		_, _, d2 := runWith(t, fx, c, nil, nil, func(d *Detectors) { d.RestoreBaseline(d1.Baseline()) })
		if s := d2.Baseline(); len(s.Listeners) != 1 || len(s.Peers) != 1 || d2.Stats().Untracked != 2 {
			t.Errorf("got %+v, untracked %d", s, d2.Stats().Untracked)
		}
	})
}
