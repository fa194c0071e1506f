package ratelimit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func req(key string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Key", key)
	return r
}

func TestLimiter(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	l, err := New(Config{Rate: 1, Burst: 2, Key: ByHeader("X-Key"), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, false} {
		if err := l.Check(req("a")); (err == nil) != want {
			t.Errorf("request %d: %v, want allowed=%v", i, err, want)
		}
	}
	var le *LimitError
	if err := l.Check(req("a")); !errors.As(err, &le) || !errors.Is(err, ErrLimited) || le.RetryAfter <= 0 || le.RetryAfter > time.Second {
		t.Errorf("over the limit: %v (retry after %v)", err, le)
	}
	if err := l.Check(req("b")); err != nil {
		t.Errorf("another key is limited too: %v", err)
	}
	c.advance(time.Second)
	if err := l.Check(req("a")); err != nil {
		t.Errorf("after a second: %v", err)
	}
}

// TestLimited: the gate only reads a bucket: it neither takes a token
// nor makes a bucket, and it says how long until the next token.
func TestLimited(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	l, err := New(Config{Rate: 2, Burst: 2, Key: ByHeader("X-Key"), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if limited, _ := l.Limited("a"); limited || l.Len() != 0 {
		t.Fatalf("unseen key: limited %v, %d buckets", limited, l.Len())
	}
	l.Allow("a")
	for range 3 {
		if limited, _ := l.Limited("a"); limited {
			t.Fatal("one token left, yet limited: Limited took a token")
		}
	}
	l.Allow("a")
	limited, wait := l.Limited("a")
	if !limited || wait != 500*time.Millisecond {
		t.Errorf("empty bucket: limited %v, wait %v; want true, 500ms", limited, wait)
	}
	c.advance(500 * time.Millisecond)
	if limited, _ := l.Limited("a"); limited {
		t.Error("still limited after the token came back")
	}
}

func TestLimiterBounded(t *testing.T) {
	l, err := New(Config{Rate: 1, Burst: 1, Key: ByHeader("X-Key"), MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		_ = l.Check(req(strconv.Itoa(i)))
	}
	if n := l.Len(); n != 10 {
		t.Errorf("%d buckets kept, want 10", n)
	}
}

func TestLimiterHandlerAndDryRun(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	l, _ := New(Config{Rate: 0.5, Burst: 1, Key: ByHeader("X-Key"), Now: c.now})
	h := l.Handler(ok)
	codes := []int{}
	var retry string
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req("a"))
		codes = append(codes, rec.Code)
		retry = rec.Header().Get("Retry-After")
	}
	if codes[0] != 200 || codes[1] != http.StatusTooManyRequests || retry != "2" {
		t.Errorf("codes %v, Retry-After %q; want [200 429] and 2", codes, retry)
	}

	limited := 0
	dry, _ := New(Config{Rate: 1, Burst: 1, Key: ByHeader("X-Key"), DryRun: true, Now: c.now,
		OnLimit: func(*http.Request, string, time.Duration) { limited++ }})
	for range 3 {
		rec := httptest.NewRecorder()
		dry.Handler(ok).ServeHTTP(rec, req("a"))
		if rec.Code != 200 {
			t.Errorf("dry run refused a request: %d", rec.Code)
		}
	}
	if limited != 2 {
		t.Errorf("dry run reported %d limited requests, want 2", limited)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Rate: 0, Burst: 1, Key: ByHeader("x")}, {Rate: 1, Burst: 0, Key: ByHeader("x")}, {Rate: 1, Burst: 1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestConcurrencyAdapts(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	cl := NewConcurrency(ConcurrencyConfig{Initial: 10, Min: 2, Max: 50, Window: 100 * time.Millisecond, Now: c.now})
	// batch runs as many requests as the limit admits at once, each
	// taking latency: a loaded upstream.
	batch := func(latency time.Duration) {
		var dones []func()
		for range cl.Limit() {
			done, err := cl.Acquire()
			if err != nil {
				t.Fatal(err)
			}
			dones = append(dones, done)
		}
		c.advance(latency)
		for _, d := range dones {
			d()
		}
	}
	for range 200 {
		batch(10 * time.Millisecond)
	}
	grown := cl.Limit()
	if grown <= 10 {
		t.Errorf("limit %d after steady latency under load, want it to grow above 10", grown)
	}
	for range 50 {
		batch(200 * time.Millisecond) // queueing: 20x the usual latency
	}
	shrunk := cl.Limit()
	if shrunk >= grown/2 || shrunk > 10 {
		t.Errorf("limit %d after latency climbed (was %d), want it under half and at most 10", shrunk, grown)
	}
	// Latency back to normal: the limit recovers (an all-time minimum
	// latency that never decays kept it at the floor).
	for range 1000 {
		batch(10 * time.Millisecond)
	}
	if got := cl.Limit(); got < grown {
		t.Errorf("limit %d after latency recovered, want it back to at least %d", got, grown)
	}
	// Light load (fewer in flight than half the limit) leaves it alone.
	before := cl.Limit()
	for range 100 {
		done, err := cl.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		c.advance(500 * time.Millisecond)
		done()
	}
	if got := cl.Limit(); got != before {
		t.Errorf("limit moved from %d to %d under light load", before, got)
	}
	// At the limit, requests are shed.
	var dones []func()
	for {
		done, err := cl.Acquire()
		if err != nil {
			if !errors.Is(err, ErrShed) {
				t.Fatal(err)
			}
			break
		}
		dones = append(dones, done)
		if len(dones) > 100 {
			t.Fatal("never shed")
		}
	}
	if len(dones) != cl.Limit() {
		t.Errorf("admitted %d in flight, limit %d", len(dones), cl.Limit())
	}
	rec := httptest.NewRecorder()
	cl.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("shed request: %d, want 503", rec.Code)
	}
	for _, d := range dones {
		d()
	}
}

// TestAttackLimiterLongKeys: with a limit keyed by a header, each bucket
// kept its key whole, and a client sending 64 KiB values made a limiter
// of 65,536 buckets hold 4 GiB (a few thousand requests were enough to
// run a sidecar out of memory). Long keys are kept as a digest: the
// memory is bounded, and each key still has a bucket of its own.
func TestAttackLimiterLongKeys(t *testing.T) {
	l, err := New(Config{Rate: 1, Burst: 1, Key: ByHeader("X-Key")})
	if err != nil {
		t.Fatal(err)
	}
	long := func(i int) string { return strings.Repeat("k", 32<<10) + strconv.Itoa(i) }
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 2000 {
		l.Allow(long(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if l.Len() != 2000 {
		t.Fatalf("%d buckets for 2000 keys", l.Len())
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Errorf("2000 buckets of 32 KiB keys hold %d MiB", grew>>20)
	}
	// Keys that differ only past any prefix are still apart, and one key
	// is one bucket.
	if ok, _ := l.Allow(long(1)); ok {
		t.Error("a long key's second request in its burst of 1 passed: its bucket was not found again")
	}
	if ok, _ := l.Allow(long(2000)); !ok {
		t.Error("a new long key sharing a prefix with others was limited")
	}
	if limited, _ := l.Limited(long(1)); !limited {
		t.Error("Limited does not find a long key's bucket")
	}
}
