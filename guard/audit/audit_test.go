package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRecordsWithoutSecrets(t *testing.T) {
	var out bytes.Buffer
	reg := prometheus.NewRegistry()
	l, err := New(&out, reg)
	if err != nil {
		t.Fatal(err)
	}
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Set(r.Context(), Verdict{Decision: Deny, Reason: "policy shop/deny-admin rule 0: path /admin matched", Rule: "authz/shop/deny-admin",
			Principal: "spiffe://example.org/ns/shop/sa/web", ClientIP: netip.MustParseAddr("2001:db8::7")})
		Set(r.Context(), Verdict{Decision: Allow, Reason: "later allow must not win"})
		http.Error(w, "forbidden", http.StatusForbidden)
	})
	h := l.Handler(deny)
	const secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"
	r := httptest.NewRequest("POST", "/admin?access_token="+secret, strings.NewReader("password=hunter2"))
	r.Header.Set("Authorization", "Bearer "+secret)
	r.Header.Set("Cookie", "session=s3cr3t-cookie")
	r.Header.Set("X-Request-Id", "req-42")
	h.ServeHTTP(httptest.NewRecorder(), r)

	log := out.String()
	for _, leak := range []string{secret, "hunter2", "s3cr3t-cookie", "access_token", "Bearer"} {
		if strings.Contains(log, leak) {
			t.Errorf("the audit log contains %q:\n%s", leak, log)
		}
	}
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON record: %v\n%s", err, log)
	}
	for k, want := range map[string]any{
		"decision": "deny", "rule": "authz/shop/deny-admin", "principal": "spiffe://example.org/ns/shop/sa/web",
		"client_ip": "2001:db8::7", "method": "POST", "path": "/admin", "status": float64(403), "request_id": "req-42",
	} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v", k, rec[k], want)
		}
	}
	if got := testutil.ToFloat64(l.decided.WithLabelValues("deny", "authz/shop/deny-admin")); got != 1 {
		t.Errorf("decisions counter = %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "ward_guard_request_duration_seconds"); err != nil || n != 1 {
		t.Errorf("duration histogram series = %d, %v", n, err)
	}
}

func TestDefaultsAndRequestID(t *testing.T) {
	var out bytes.Buffer
	l, _ := New(&out, nil)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-Id", "bad id with spaces\nand a newline")
	l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })).ServeHTTP(rec, r)
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	id, _ := m["request_id"].(string)
	if m["decision"] != "allow" || m["reason"] != "no rule applied" || m["status"] != float64(200) || len(id) != 16 || rec.Header().Get("X-Request-Id") != id {
		t.Errorf("record %v, response id %q", m, rec.Header().Get("X-Request-Id"))
	}
}

func TestBufferedWriter(t *testing.T) {
	var out syncBuf
	b := NewBufferedWriter(&out, 20*time.Millisecond)
	if _, err := b.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" {
		t.Error("written before a flush")
	}
	deadline := time.Now().Add(2 * time.Second)
	for out.String() != "one\n" {
		if time.Now().After(deadline) {
			t.Fatal("not flushed within the interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, _ = b.Write([]byte("two\n"))
	if err := b.Close(); err != nil || out.String() != "one\ntwo\n" {
		t.Errorf("after Close: %q, %v", out.String(), err)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct{ release chan struct{} }

func (b blockingWriter) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

// TestBufferedWriterStalledOutput: a stalled output never blocks Write;
// records beyond the bound are dropped and counted, Healthy says so, and
// Shutdown gives up at its deadline.
func TestBufferedWriterStalledOutput(t *testing.T) {
	out := blockingWriter{release: make(chan struct{})}
	defer close(out.release)
	b := NewBufferedWriterOptions(out, BufferOptions{Interval: time.Millisecond, MaxBytes: 1024, StallAfter: 50 * time.Millisecond})
	rec := []byte(strings.Repeat("x", 99) + "\n")
	start := time.Now()
	full := 0
	for range 1000 {
		if _, err := b.Write(rec); errors.Is(err, ErrFull) {
			full++
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("1000 writes took %v with the output stalled", d)
	}
	if full == 0 || b.Dropped() != uint64(full) {
		t.Errorf("%d writes refused, Dropped() = %d", full, b.Dropped())
	}
	time.Sleep(100 * time.Millisecond)
	if err := b.Healthy(); err == nil {
		t.Error("Healthy() = nil with the output stalled")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with the output stalled: %v", err)
	}
}

// TestBufferedWriterDroppedThenFlushed: records were dropped, then the
// flush moved the full buffer into a write the stalled output does not
// finish. The buffer, refilling, was under half full and the write under
// StallAfter old, so Healthy said nil (and /readyz 200) while records
// had just been lost; it reports trouble until the output catches up.
func TestBufferedWriterDroppedThenFlushed(t *testing.T) {
	out := blockingWriter{release: make(chan struct{})}
	b := NewBufferedWriterOptions(out, BufferOptions{Interval: time.Hour, MaxBytes: 1024, StallAfter: time.Hour})
	rec := []byte(strings.Repeat("x", 99) + "\n")
	for range 20 {
		_, _ = b.Write(rec)
	}
	if b.Dropped() == 0 {
		t.Fatal("no record dropped: the test cannot see the state")
	}
	flushed := make(chan error, 1)
	go func() { flushed <- b.Flush() }()
	for b.Pending() != 0 { // the flush has taken the buffer into its write
		time.Sleep(time.Millisecond)
	}
	_, _ = b.Write(rec) // the buffer refills, under half full
	if err := b.Healthy(); err == nil {
		t.Error("Healthy() = nil right after records were dropped, the output still stalled")
	}
	close(out.release) // the output catches up
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.Healthy(); err != nil {
		t.Errorf("Healthy() = %v after the output caught up", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRecordMatchesSlog: a record is byte for byte what slog's
// JSONHandler wrote for the same attributes (the format before records
// were encoded by hand), including strings that need escaping.
func TestRecordMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 6, 4, 5, 6, 789012345, time.FixedZone("X", 3600))
	odd := "q\"b\\s\n\r\t\x01\x1f<>&é\u2028\u2029\xff\xfez"
	for _, v := range []Verdict{
		{},
		{Decision: Deny, Reason: odd, Rule: "authz/ns/p", Principal: "spiffe://td/" + odd, ClientIP: netip.MustParseAddr("192.0.2.7")},
		{Decision: Allow, Reason: "r", ClientIP: netip.MustParseAddr("2001:db8::7"), Audited: true, Route: "api" + odd, WAF: "942100 " + odd, Outcome: "client closed"},
		{ClientIP: netip.MustParseAddr("fe80::1%eth\"0"), Outcome: odd},
		{ClientIP: netip.MustParseAddr("::ffff:192.0.2.1")},
		{Principal: "https://id/" + odd, Peer: "spiffe://td/" + odd, DryRun: "ratelimit: " + odd},
		{Principal: "spiffe://td/a", Peer: "spiffe://td/a"},
	} {
		got := appendRecord(nil, at, &v, "GET", "/p"+odd, 403, 1234567*time.Nanosecond, "id-"+odd)
		var want bytes.Buffer
		attrs := []slog.Attr{
			slog.String("decision", v.Decision), slog.String("reason", v.Reason), slog.String("rule", v.Rule),
			slog.String("principal", v.Principal), slog.String("method", "GET"), slog.String("path", "/p"+odd),
			slog.Int("status", 403), slog.Duration("latency", 1234567*time.Nanosecond), slog.String("request_id", "id-"+odd),
		}
		if v.ClientIP.IsValid() {
			attrs = append(attrs, slog.String("client_ip", v.ClientIP.String()))
		}
		if v.Audited {
			attrs = append(attrs, slog.Bool("audited", true))
		}
		peer := v.Peer
		if peer == v.Principal {
			peer = ""
		}
		for _, kv := range [][2]string{{"route", v.Route}, {"waf", v.WAF}, {"outcome", v.Outcome}, {"dry_run", v.DryRun}, {"peer", peer}} {
			if kv[1] != "" {
				attrs = append(attrs, slog.String(kv[0], kv[1]))
			}
		}
		rec := slog.NewRecord(at, slog.LevelInfo, "decision", 0)
		rec.AddAttrs(attrs...)
		if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if string(got) != want.String() {
			t.Errorf("record differs from slog's:\n got %s\nwant %s", got, want.String())
		}
	}
}

// TestAttackPanicRecorded: a handler that panics (ReverseProxy's
// http.ErrAbortHandler for a response cut off mid-body) still leaves its
// record, with the status sent and outcome "response aborted", and the
// panic goes on.
func TestAttackPanicRecorded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		header bool
		status string
	}{
		{"after headers", true, `"status":200`},
		{"before headers", false, `"status":500`},
	} {
		var buf bytes.Buffer
		l, err := New(&buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			Set(r.Context(), Verdict{Decision: Allow, Rule: "authz/x"})
			if tt.header {
				w.WriteHeader(http.StatusOK)
			}
			panic(http.ErrAbortHandler)
		}))
		func() {
			defer func() {
				if v := recover(); v != http.ErrAbortHandler {
					t.Errorf("%s: panic %v, want it passed on", tt.name, v)
				}
			}()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/dl", nil))
		}()
		rec := buf.String()
		if strings.Count(rec, "\n") != 1 || !strings.Contains(rec, tt.status) || !strings.Contains(rec, `"outcome":"response aborted"`) || !strings.Contains(rec, `"rule":"authz/x"`) {
			t.Errorf("%s: record %q", tt.name, rec)
		}
	}
}

// TestInformationalStatusNotRecorded: a 1xx before the final response
// (103 Early Hints, forwarded by a reverse proxy) is not the status
// recorded; 101 is.
func TestInformationalStatusNotRecorded(t *testing.T) {
	for _, tt := range []struct {
		codes []int
		want  string
	}{
		{[]int{http.StatusEarlyHints, http.StatusForbidden}, `"status":403,`},
		{[]int{http.StatusProcessing, http.StatusEarlyHints}, `"status":200,`}, // then a body
		{[]int{http.StatusSwitchingProtocols}, `"status":101,`},
	} {
		var out bytes.Buffer
		l, err := New(&out, nil)
		if err != nil {
			t.Fatal(err)
		}
		h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, c := range tt.codes {
				w.WriteHeader(c)
			}
			_, _ = w.Write([]byte("x"))
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("%v: record %s, want %s", tt.codes, out.String(), tt.want)
		}
	}
}

// TestLongMethodCut: a method is any token and a path any length, as
// long as the request line (64 KiB); a record holding one whole crowded
// the others out of the buffer. They are cut at 64 bytes and 8 KiB,
// with fields saying so and how long they were.
func TestLongMethodCut(t *testing.T) {
	m := strings.Repeat("M", 60000)
	got := string(appendRecord(nil, time.Unix(0, 0), &Verdict{Decision: Deny}, m, "/p", 400, 0, "id"))
	if want := `"method":"` + m[:64] + `","method_truncated":true,"method_bytes":60000,"path":"/p",`; !strings.Contains(got, want) || len(got) > 512 {
		t.Errorf("record of a 60000-byte method: %d bytes: %.300s", len(got), got)
	}
	p := "/" + strings.Repeat("p", 60000)
	got = string(appendRecord(nil, time.Unix(0, 0), &Verdict{Decision: Deny}, "GET", p, 414, 0, "id"))
	if want := `"path":"` + p[:8192] + `","path_truncated":true,"path_bytes":60001,"status"`; !strings.Contains(got, want) || len(got) > 8192+512 {
		t.Errorf("record of a 60001-byte path: %d bytes", len(got))
	}
	if got := string(appendRecord(nil, time.Unix(0, 0), &Verdict{}, "PROPFIND", "/p", 200, 0, "id")); !strings.Contains(got, `"method":"PROPFIND"`) || strings.Contains(got, "truncated") {
		t.Errorf("record: %s", got)
	}
	// As slog would write the same attributes.
	var want bytes.Buffer
	rec := slog.NewRecord(time.Unix(0, 0).UTC(), slog.LevelInfo, "decision", 0)
	rec.AddAttrs(slog.String("decision", Deny), slog.String("reason", ""), slog.String("rule", ""), slog.String("principal", ""),
		slog.String("method", m[:64]), slog.Bool("method_truncated", true), slog.Int("method_bytes", 60000),
		slog.String("path", p[:8192]), slog.Bool("path_truncated", true), slog.Int("path_bytes", 60001),
		slog.Int("status", 400), slog.Duration("latency", 0), slog.String("request_id", "id"))
	if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if got := string(appendRecord(nil, time.Unix(0, 0).UTC(), &Verdict{Decision: Deny}, m, p, 400, 0, "id")); got != want.String() {
		t.Errorf("record differs from slog's:\n got %.200s\nwant %.200s", got, want.String())
	}
}

// TestCutNotForgeable: an HTTP/2 :method is any field value, so a client
// could send "GET…(+9000 bytes)", which the record held as sent and a
// reader took for a 9003-byte method cut at its mark. A cut is now said
// by fields of the record, which no value can forge.
func TestCutNotForgeable(t *testing.T) {
	record := func(method, path string) map[string]any {
		var v map[string]any
		if err := json.Unmarshal(appendRecord(nil, time.Unix(0, 0), &Verdict{}, method, path, 400, 0, "id"), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	forged := record("GET…(+9000 bytes)", "/p…(+9000 bytes)")
	for _, k := range []string{"method", "path"} {
		if forged[k+"_truncated"] != nil || forged[k+"_bytes"] != nil {
			t.Errorf("a %s sent with a cut's mark reads as cut: %v, %v", k, forged[k+"_truncated"], forged[k+"_bytes"])
		}
	}
	if forged["method"] != "GET…(+9000 bytes)" {
		t.Errorf("method %q, want it as sent", forged["method"])
	}
	cut := record("GET"+strings.Repeat("x", 9000), "/"+strings.Repeat("p", 9000))
	if cut["method_truncated"] != true || cut["method_bytes"] != 9003.0 || cut["path_truncated"] != true || cut["path_bytes"] != 9001.0 {
		t.Errorf("a cut method and path: method_truncated %v, method_bytes %v, path_truncated %v, path_bytes %v",
			cut["method_truncated"], cut["method_bytes"], cut["path_truncated"], cut["path_bytes"])
	}
}

// fullDisk takes room bytes, then fails every write (ENOSPC) until freed,
// taking what fits first, as write(2) does on a full file system.
type fullDisk struct {
	mu   sync.Mutex
	out  bytes.Buffer
	room int // -1: unlimited
}

func (d *fullDisk) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.room < 0 {
		return d.out.Write(p)
	}
	n := min(len(p), d.room)
	d.out.Write(p[:n])
	d.room -= n
	if n < len(p) {
		return n, syscall.ENOSPC
	}
	return n, nil
}

// TestAttackAuditDiskFullTornRecord: a write to a full disk takes part of
// a flush and fails. The records it wrote whole were counted as dropped,
// and the record it cut off stayed open: once the disk had room again,
// the next record was appended to it, and a reader of the file lost that
// record too, uncounted. Now the count is of the records not written
// whole, and the cut one is ended before the next is written.
func TestAttackAuditDiskFullTornRecord(t *testing.T) {
	rec := func(i int) []byte {
		return fmt.Appendf(nil, `{"msg":"decision","n":%d,"pad":"%s"}`+"\n", i, strings.Repeat("x", 40))
	}
	disk := &fullDisk{room: len(rec(0))*2 + 10} // two records and part of a third
	b := NewBufferedWriterOptions(disk, BufferOptions{Interval: time.Hour})
	defer b.Close()
	for i := range 4 {
		_, _ = b.Write(rec(i))
	}
	if err := b.Flush(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("flush to a full disk: %v", err)
	}
	if d := b.Dropped(); d != 2 {
		t.Errorf("Dropped() = %d after two of four records were written whole, want 2", d)
	}
	disk.mu.Lock()
	disk.room = -1 // room again
	disk.mu.Unlock()
	for i := 4; i < 6; i++ {
		_, _ = b.Write(rec(i))
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, line := range strings.Split(strings.TrimSuffix(disk.out.String(), "\n"), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			got = append(got, m["n"].(float64))
		}
	}
	if want := []float64{0, 1, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("records a reader gets from the file: %v, want %v\n%s", got, want, disk.out.String())
	}
	if d := b.Dropped(); d != 2 {
		t.Errorf("Dropped() = %d, want 2: the records after the disk had room are all readable", d)
	}
}

// TestAttackStalledOutputUnlogged: OnError (the proxy's ERROR line) was
// called by the flushing goroutine once a write returned; with the
// output stalled for good (standard output on an unread pipe) that
// goroutine stayed in the write, and records were dropped without a
// single line. A stall is now reported while it lasts.
func TestAttackStalledOutputUnlogged(t *testing.T) {
	out := blockingWriter{release: make(chan struct{})}
	defer close(out.release)
	calls := make(chan string, 10)
	b := NewBufferedWriterOptions(out, BufferOptions{Interval: time.Millisecond, MaxBytes: 1024, StallAfter: 50 * time.Millisecond,
		OnError: func(msg string, dropped uint64, err error) { calls <- fmt.Sprint(msg, " ", dropped, " ", err) }})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = b.Shutdown(ctx)
	}()
	rec := []byte(strings.Repeat("x", 99) + "\n")
	for range 100 {
		_, _ = b.Write(rec)
		time.Sleep(time.Millisecond)
	}
	if b.Dropped() == 0 {
		t.Fatal("no record dropped with the output stalled")
	}
	select {
	case msg := <-calls:
		if !strings.Contains(msg, "stalled") {
			t.Errorf("OnError(%s), want it to say the output stalled", msg)
		}
	case <-time.After(5 * time.Second):
		t.Error("records dropped for 5 s with the output stalled, and OnError never called")
	}
}
