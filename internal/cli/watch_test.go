package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWatch runs `ward watch` over the committed capture: exit codes,
// outputs and errors as a user meets them.
func TestWatch(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join(root, "watch", "testdata", "scenario.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(scenario)), "\n")
	clean := strings.Join(append(lines[:111:111], lines[112:]...), "\n") + "\n" // without the truncated line
	benign := strings.Join(lines[:90], "\n") + "\n"                             // web, api and db talking as allowed
	proxyAudit := `{"time":"2026-12-06T07:00:00Z","level":"INFO","msg":"decision","decision":"deny","rule":"authz/shop/deny-admin","method":"GET","path":"/admin","status":403,"latency":1,"request_id":"a","client_ip":"10.244.1.5"}
{"time":"2026-12-06T07:00:01Z","level":"INFO","msg":"decision","decision":"allow","rule":"authz/shop/allow","method":"GET","path":"/","status":200,"latency":1,"request_id":"b","client_ip":"10.244.1.5"}
{"time":"2026-12-06T07:00:02Z","level":"INFO","msg":"decision","decision":"allow","rule":"authz/shop/allow","method":"GET","path":"/","status":200,"latency":1,"request_id":"c","client_ip":"10.244.1.6"}
`
	man := []string{"--manifests", "watch/testdata/shop.yaml", "--config", "watch/testdata/watch.yaml"}
	for _, tc := range []struct {
		name       string
		stdin      string
		args       []string
		code       int
		stdout     []string // substrings, in order
		stderr     []string
		stdoutNone bool
	}{
		{"alerts from stdin, exit 1", clean, append([]string{"watch", "--hubble", "-"}, man...), 1,
			[]string{`"detector":"port-scan"`, `"detector":"policy-violation"`, `"detector":"unexpected-egress"`},
			[]string{"ward: watch: 113 events", "alerts: policy-violation 1, port-scan 1, unexpected-egress 1"}, false},
		{"benign traffic, exit 0", benign, append([]string{"watch", "--hubble", "-", "-o", "text"}, man...), 0,
			nil, []string{"ward: watch: 90 events (60 judged by the policies", "lost by producers, no alerts"}, true},
		// A flow without a transport (GRE) is not judged, and the
		// summary says so, not that an end was of unknown identity.
		{"a flow without a transport: not judged", benign + `{"flow":{"time":"2026-12-06T07:00:30Z","verdict":"FORWARDED","IP":{"source":"10.244.0.10","destination":"10.244.0.20","ipVersion":"IPv4"}},"node_name":"kind-worker"}` + "\n",
			append([]string{"watch", "--hubble", "-", "-o", "text"}, man...), 0,
			nil, []string{"ward: watch: 91 events (60 judged by the policies, 1 not judged: an end of unknown identity or no transport named)"}, true},
		{"a bad line: reported at file:line, exit 2", "", append([]string{"watch", "--hubble", "watch/testdata/scenario.jsonl"}, man...), 2,
			[]string{`"detector":"policy-violation"`},
			[]string{"ward: warning: watch/testdata/scenario.jsonl:112: column 90: unexpected end of line", "ward: 1 bad records: the input was not read whole"}, false},
		{"no events: never a clean result", "", append([]string{"watch", "--hubble", "-"}, man...), 2,
			nil, []string{"no event in the input"}, true},
		{"producer lost events: not clean", benign + `{"lost_events":{"source":"PERF_EVENT_RING_BUFFER","num_events_lost":"12"}}` + "\n", append([]string{"watch", "--hubble", "-"}, man...), 2,
			nil, []string{"ward: warning: -:91: the producer reports 12 events lost", "the producers lost 12 events"}, true},
		{"proxy audit records from stdin: read, nothing raised", proxyAudit,
			[]string{"watch", "--proxy-audit", "-", "--proxy-addr", "10.244.0.20:8443", "-o", "text"}, 0,
			nil, []string{"ward: warning: no --manifests", "ward: watch: 3 events"}, true},
		{"bad --proxy-addr", "", []string{"watch", "--proxy-audit", "-", "--proxy-addr", "10.244.0.20"}, 2, nil, []string{"--proxy-addr"}, true},
		{"assertions judge observed flows", clean, append([]string{"watch", "--hubble", "-", "--assertions", "watch/detect/testdata/ward.yaml"}, man...), 1,
			[]string{`"detector":"assertion-violated"`, `the database is never reached from dev`},
			[]string{"alerts: assertion-violated 1,"}, false},
		{"assertions need manifests", "", []string{"watch", "--hubble", "-", "--assertions", "watch/detect/testdata/ward.yaml"}, 2, nil, []string{"--assertions needs --manifests"}, true},
		{"bad assertions file", "", append([]string{"watch", "--hubble", "-", "--assertions", "watch/testdata/watch.yaml"}, man...), 2, nil, []string{"watch/testdata/watch.yaml:"}, true},
		{"no input", "", []string{"watch"}, 2, nil, []string{"watch needs an input"}, true},
		{"missing file", "", []string{"watch", "--hubble", "watch/testdata/none.jsonl"}, 2, nil, []string{"watch/testdata/none.jsonl: open"}, true},
		{"bad config: file and line", "", []string{"watch", "--hubble", "-", "--config", "internal/cli/testdata/watch-bad.yaml"}, 2,
			nil, []string{"internal/cli/testdata/watch-bad.yaml:3: synFlood.pps: must be at least 1, not 0"}, true},
		{"follow needs files", "", []string{"watch", "--hubble", "-", "--follow"}, 2, nil, []string{"--follow needs files"}, true},
		{"stdin twice", "", []string{"watch", "--hubble", "-", "--proxy-audit", "-"}, 2, nil, []string{"standard input (-) given twice"}, true},
		{"bad output format", "", []string{"watch", "--hubble", "-", "-o", "yaml"}, 2, nil, []string{"unknown output format"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tc.code, stderr)
			}
			if tc.stdoutNone && stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			checkOrdered(t, "stdout", stdout, tc.stdout)
			checkOrdered(t, "stderr", stderr, tc.stderr)
		})
	}
}

func checkOrdered(t *testing.T, name, got string, want []string) {
	t.Helper()
	rest := got
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s lacks %q (in order):\n%s", name, w, got)
			return
		}
		rest = rest[i+len(w):]
	}
}

// TestWatchWebhook: --webhook receives every alert report stdout shows,
// as JSON even when stdout is text, signed with the key of
// --webhook-secret and with $WARD_WEBHOOK_AUTHORIZATION; an endpoint that
// refuses them makes the run exit 2 (alerts that were not delivered).
func TestWatchWebhook(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join(root, "watch", "testdata", "scenario.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(scenario)), "\n")
	clean := strings.Join(append(lines[:111:111], lines[112:]...), "\n") + "\n"
	secret := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(secret, []byte("k3y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARD_WEBHOOK_AUTHORIZATION", "Bearer t0ken")
	var mu sync.Mutex
	var got []map[string]any
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte("k3y"))
		m.Write(body)
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		if r.Header.Get("X-Ward-Signature") != "sha256="+hex.EncodeToString(m.Sum(nil)) || r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "bad signature or token", http.StatusUnauthorized)
			return
		}
		var alerts []map[string]any
		if err := json.Unmarshal(body, &alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, alerts...)
	}))
	defer srv.Close()
	args := []string{"watch", "--hubble", "-", "--manifests", "watch/testdata/shop.yaml", "--config", "watch/testdata/watch.yaml", "--webhook", srv.URL, "--webhook-secret", secret}
	stdout, stderr, code := run(t, clean, args...)
	if code != ExitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	reports := strings.Count(strings.TrimSpace(stdout), "\n") + 1
	mu.Lock()
	if len(got) != reports {
		t.Errorf("webhook got %d alert reports, stdout has %d", len(got), reports)
	}
	seen := map[string]bool{}
	for _, a := range got {
		seen[fmt.Sprint(a["detector"])] = true
	}
	mu.Unlock()
	for _, d := range []string{"port-scan", "policy-violation", "unexpected-egress"} {
		if !seen[d] {
			t.Errorf("webhook did not get the %s alert", d)
		}
	}
	if !strings.Contains(stderr, fmt.Sprintf("webhook: %d alert reports delivered, 0 dropped", reports)) {
		t.Errorf("stderr: %s", stderr)
	}
	// Text on stdout, JSON to the webhook.
	mu.Lock()
	got = nil
	mu.Unlock()
	stdout, _, _ = run(t, clean, append(args, "-o", "text")...)
	mu.Lock()
	if strings.HasPrefix(stdout, "{") || len(got) == 0 {
		t.Errorf("-o text: stdout %.60q..., webhook got %d", stdout, len(got))
	}
	refuse = true
	mu.Unlock()
	_, stderr, code = run(t, clean, args...)
	if code != ExitError || !strings.Contains(stderr, "alert reports were not delivered") || strings.Contains(stderr, "t0ken") {
		t.Errorf("refused: exit %d, stderr %s", code, stderr)
	}
}

// lockedBuffer is written by the command while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWatchFollow follows a file through a rename rotation: the scan's
// first half is in the old file, its second in the new one; the alert
// comes while the command runs, and interrupting it ends the run with
// exit 1.
func TestWatchFollow(t *testing.T) {
	t.Chdir(root)
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.jsonl")
	line := func(port int) string {
		return fmt.Sprintf(`{"flow":{"time":"2026-12-06T07:00:%02dZ","verdict":"DROPPED","IP":{"source":"10.244.1.5","destination":"10.244.0.30"},"l4":{"TCP":{"source_port":50000,"destination_port":%d,"flags":{"SYN":true}}},"drop_reason_desc":"POLICY_DENIED"}}`+"\n", port, 1000+port)
	}
	var first strings.Builder
	for p := range 8 {
		first.WriteString(line(p))
	}
	if err := os.WriteFile(path, []byte(first.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"watch", "--hubble", path, "--follow", "--manifests", "watch/testdata/shop.yaml", "--config", "watch/testdata/watch.yaml"},
			strings.NewReader(""), &stdout, &stderr)
	}()
	waitOpen(t, path) // rotate only once the follower holds the first file
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	var second strings.Builder
	for p := 8; p < 16; p++ {
		second.WriteString(line(p))
	}
	if err := os.WriteFile(path, []byte(second.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), `"state":"open"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no alert while following; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 1 {
		t.Errorf("exit %d, want 1; stderr %s", code, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, `"detector":"port-scan"`) || !strings.Contains(out, `"state":"closed"`) || !strings.Contains(out, `"count":16`) {
		t.Errorf("stdout %s", out)
	}
	checkOrdered(t, "stderr", stderr.String(), []string{"ward: watch: 16 events"})
}

// waitOpen waits until this process holds path open (the follower's
// file), through /proc/self/fd.
func waitOpen(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		fds, _ := os.ReadDir("/proc/self/fd")
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == path {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never opened", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchLive: --live draws the view (cleared and redrawn in place)
// instead of JSON lines; the last frame shows the run's alerts and top
// talkers; the exit code is the same.
func TestWatchLive(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join(root, "watch", "testdata", "scenario.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(scenario)), "\n")
	clean := strings.Join(append(lines[:111:111], lines[112:]...), "\n") + "\n"
	stdout, stderr, code := run(t, clean, "watch", "--hubble", "-", "--manifests", "watch/testdata/shop.yaml", "--config", "watch/testdata/watch.yaml", "--live")
	if code != ExitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	frames := strings.Split(stdout, "\x1b[H\x1b[2J")
	last := frames[len(frames)-1]
	if len(frames) < 2 || strings.Contains(stdout, `{"id":`) {
		t.Fatalf("not a live view:\n%s", stdout)
	}
	for _, want := range []string{"events 113", "TOP TALKERS", "shop/Pod/web-1 -> shop/Pod/api-1 8080/TCP", "DROPS", "RECENT ALERTS", "policy-violation", "port-scan"} {
		if !strings.Contains(last, want) {
			t.Errorf("last frame lacks %q:\n%s", want, last)
		}
	}
}
