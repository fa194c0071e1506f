package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/internal/testenv"
)

// TestWatchFleet publishes the committed capture to a real nats-server
// with ward watch --publish, twice (the second time deduplicated by the
// server), then judges it with ward watch --from: the same alerts as
// reading the capture directly.
func TestWatchFleet(t *testing.T) {
	srv := testenv.NATSServer(t, "authorization {\n  user: ward\n  password: \"pw\"\n}\n")
	dir := t.TempDir()
	pw, bad := filepath.Join(dir, "pw"), filepath.Join(dir, "bad")
	for f, s := range map[string]string{pw: "pw\n", bad: "nope\n"} {
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	scenario, err := os.ReadFile(filepath.Join(root, "watch", "testdata", "scenario.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(scenario)), "\n")
	clean := strings.Join(append(lines[:111:111], lines[112:]...), "\n") + "\n" // without the truncated line
	auth := []string{"--nats-user", "ward", "--nats-password-file", pw}
	pub := append([]string{"watch", "--hubble", "-", "--publish", srv.URL}, auth...)
	man := []string{"--manifests", "watch/testdata/shop.yaml", "--config", "watch/testdata/watch.yaml"}
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stderr []string
	}{
		{"publish", clean, pub, 0, []string{"ward: watch: 113 events published to stream WARD_EVENTS (113 stored, 0 already there, 0 retried, 0 not published), 0 bad records, 0 lost by producers"}},
		{"publish again: the server drops what it has", clean, pub, 0, []string{"113 events published to stream WARD_EVENTS (0 stored, 113 already there"}},
		{"a bad line is no clean publication", "", append([]string{"watch", "--hubble", "watch/testdata/scenario.jsonl", "--publish", srv.URL}, auth...), 2,
			[]string{"watch/testdata/scenario.jsonl:112: column 90", "ward: watch: 113 events published", "1 bad records: the input was not read whole"}},
		{"nothing to publish", "", pub, 2, []string{"no event in the input: nothing was published"}},
		{"wrong password", clean, []string{"watch", "--hubble", "-", "--publish", srv.URL, "--nats-user", "ward", "--nats-password-file", bad}, 2,
			[]string{"ward: connecting to NATS at " + srv.URL + ": the server refused user ward and its password: nats: Authorization Violation"}},
		{"no credentials", clean, []string{"watch", "--hubble", "-", "--publish", srv.URL}, 2, []string{"the server refused no credentials"}},
		{"missing password file", clean, []string{"watch", "--hubble", "-", "--publish", srv.URL, "--nats-user", "ward", "--nats-password-file", filepath.Join(dir, "none")}, 2,
			[]string{"--nats-password-file: " + filepath.Join(dir, "none") + ": open"}},
		{"from needs durable", "", []string{"watch", "--from", srv.URL}, 2, []string{"--from needs --durable NAME"}},
		{"durable needs from", "", []string{"watch", "--hubble", "-", "--durable", "d"}, 2, []string{"--durable applies to --from"}},
		{"publish or detect", "", []string{"watch", "--from", srv.URL, "--durable", "d", "--hubble", "-", "--publish", srv.URL}, 2, []string{"--publish and --from together"}},
		{"bad URL", "", []string{"watch", "--hubble", "-", "--publish", "http://x"}, 2, []string{`scheme "http", want nats:// or tls://`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tc.code, stderr)
			}
			checkOrdered(t, "stderr", stderr, tc.stderr)
		})
	}

	// The detectors, from the stream, until interrupted.
	if wd, _ := os.Getwd(); wd != root {
		t.Chdir(root)
	}
	var stdout, stderr testenv.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	args := append(append([]string{"watch", "--from", srv.URL, "--durable", "detectors"}, auth...), man...)
	go func() { done <- Run(ctx, args, strings.NewReader(""), &stdout, &stderr) }()
	deadline := time.Now().Add(60 * time.Second)
	for !(strings.Contains(stdout.String(), `"detector":"port-scan"`) && strings.Contains(stdout.String(), `"detector":"policy-violation"`) &&
		strings.Contains(stdout.String(), `"detector":"unexpected-egress"`)) {
		if time.Now().After(deadline) {
			t.Fatalf("no alerts from the stream in 60s\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // let the last batches arrive
	cancel()
	if code := <-done; code != 1 {
		t.Errorf("exit %d, want 1 (alerts raised)\nstderr: %s", code, stderr.String())
	}
	checkOrdered(t, "stderr", stderr.String(), []string{
		"ward: watch: 113 events", "alerts: policy-violation 1, port-scan 1, unexpected-egress 1",
		"ward: watch: from nats:WARD_EVENTS/detectors: 113 messages, 113 events delivered, 0 duplicates dropped, 0 bad messages"})
}
