package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchStore: a replay with --store keeps its incidents; ward watch
// alerts lists them, newest first, filtered; a replay without --store
// keeps nothing; a store that is not one is an error at the file, exit 2.
func TestWatchStore(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	scenario, err := os.ReadFile(filepath.Join(root, "watch", "testdata", "scenario.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(scenario)), "\n")
	clean := strings.Join(append(lines[:111:111], lines[112:]...), "\n") + "\n"
	dir := t.TempDir()
	db := filepath.Join(dir, "watch.db")
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, []byte(strings.Repeat("these are notes, not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	man := []string{"--manifests", "watch/testdata/shop.yaml", "--config", "watch/testdata/watch.yaml"}
	watch := func(more ...string) []string {
		return append(append([]string{"watch", "--hubble", "-"}, man...), more...)
	}
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout []string // substrings, in order
		stderr []string
		lines  int // stdout lines (-1: not checked)
	}{
		{"a replay with --store keeps its incidents", clean, watch("--store", db), 1, nil,
			[]string{"ward: watch: store " + db + ": 6 alert reports and 6 baseline keys written, 0 alert reports dropped"}, -1},
		{"alerts: the latest report of each, newest first", "", []string{"watch", "alerts", "--store", db}, 0,
			[]string{"2026-12-06T07:01:12Z medium   unexpected-egress closed shop/Pod/api-1 > 198.51.100.0/24: shop/Pod/api-1 reached 198.51.100.7:443",
				"critical policy-violation  closed dev/Pod/tool > shop/Pod/db-0", "high     port-scan         closed dev/Pod/tool > shop/Pod/db-0: 10.244.1.5 made failed connections to 20 ports"}, nil, 3},
		{"alerts: one detector, as JSON", "", []string{"watch", "alerts", "--store", db, "--detector", "port-scan", "-o", "json"}, 0,
			[]string{`{"id":"`, `"detector":"port-scan"`, `"state":"closed"`}, nil, 1},
		{"alerts: since a nanosecond ago, nothing", "", []string{"watch", "alerts", "--store", db, "--since", "1ns"}, 0, nil, nil, 0},
		{"alerts: no store", "", []string{"watch", "alerts", "--store", filepath.Join(dir, "none.db")}, 2, nil,
			[]string{filepath.Join(dir, "none.db") + ": no ward watch store"}, 0},
		{"alerts: not a store", "", []string{"watch", "alerts", "--store", bad}, 2, nil,
			[]string{bad + ": not a ward watch store, or a corrupt one"}, 0},
		{"watch: not a store", clean, watch("--store", bad), 2, nil, []string{bad + ": not a ward watch store, or a corrupt one"}, 0},
		{"watch: --store none", clean, watch("--store", "none"), 1, nil, nil, -1},
		{"watch: a bad --retention", clean, watch("--store", db, "--retention", "-1h"), 2, nil, []string{"--retention -1h0m0s: must be positive"}, 0},
		{"watch: --store with --publish", clean, []string{"watch", "--hubble", "-", "--publish", "nats://127.0.0.1:1", "--store", db}, 2, nil,
			[]string{"--store needs the detectors here"}, 0},
		{"alerts: a bad output format", "", []string{"watch", "alerts", "--store", db, "-o", "yaml"}, 2, nil, []string{"unknown output format"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tc.code, stderr)
			}
			checkOrdered(t, "stdout", stdout, tc.stdout)
			checkOrdered(t, "stderr", stderr, tc.stderr)
			if n := strings.Count(stdout, "\n"); tc.lines >= 0 && n != tc.lines {
				t.Errorf("%d lines, want %d:\n%s", n, tc.lines, stdout)
			}
		})
	}
	// The replays without --store kept nothing in the default place.
	if _, err := os.Stat(filepath.Join(state, "ward")); !os.IsNotExist(err) {
		t.Errorf("a replay kept a default store: %v", err)
	}
	// The JSON listing is the reports as ward watch emitted them.
	stdout, _, _ := run(t, "", "watch", "alerts", "--store", db, "-o", "json")
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var a struct{ ID, Detector, State string }
		if err := json.Unmarshal([]byte(l), &a); err != nil || a.ID == "" || a.State != "closed" {
			t.Errorf("report %q: %v", l, err)
		}
	}
}

// TestWatchStoreDefault: a long-running watch keeps its store in the
// XDG state directory unless --store says otherwise; a replay keeps none.
func TestWatchStoreDefault(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	other := filepath.Join(t.TempDir(), "w.db")
	for _, tc := range []struct {
		name    string
		path    string
		running bool
		want    string // "": no store
	}{
		{"running: the default", "", true, filepath.Join(state, "ward", "watch.db")},
		{"a replay: none", "", false, ""},
		{"running, --store none", "none", true, ""},
		{"a replay, --store PATH", other, false, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sf := watchStoreFlags{path: tc.path, retention: 720 * time.Hour}
			st, err := sf.open(tc.running, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if st != nil {
				got = st.Path()
				if _, err := st.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if got != tc.want {
				t.Errorf("store %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("no XDG_STATE_HOME: ~/.local/state", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("XDG_STATE_HOME", "")
		t.Setenv("HOME", home)
		sf := watchStoreFlags{retention: time.Hour}
		st, err := sf.open(true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Close(); err != nil || st.Path() != filepath.Join(home, ".local", "state", "ward", "watch.db") {
			t.Errorf("store %q, %v", st.Path(), err)
		}
	})
}
