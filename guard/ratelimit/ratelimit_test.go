package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/guard/clientip"
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

// TestLimiterLongKeysBounded: keys are the client's word with ByHeader,
// and a limiter kept each whole, so MaxKeys buckets of 64 KiB header
// values (harden.Server's header cap) held MaxKeys x 64 KiB. Long keys
// are kept as digests now; they still limit as themselves.
func TestLimiterLongKeysBounded(t *testing.T) {
	const n, size = 256, 64 << 10
	l, err := New(Config{Rate: 1, Burst: 1, Key: ByHeader("X-Key"), MaxKeys: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		k := strings.Repeat(strconv.Itoa(i%10), size-8) + fmt.Sprintf("%08d", i)
		if err := l.Check(req(k)); err != nil {
			t.Fatalf("key %d: first request refused: %v", i, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(l)
	if l.Len() != n {
		t.Fatalf("%d buckets, want %d", l.Len(), n)
	}
	// n keys of 64 KiB are 16 MiB; n digests and buckets are tens of KiB.
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 4<<20 {
		t.Errorf("the limiter holds %d KiB for %d keys of %d KiB", grown>>10, n, size>>10)
	}
	long := strings.Repeat("a", size)
	if err := l.Check(req(long)); err != nil {
		t.Fatalf("first request with a long key refused: %v", err)
	}
	if err := l.Check(req(long)); !errors.Is(err, ErrLimited) {
		t.Errorf("second request with the same long key: %v, want ErrLimited", err)
	}
	if err := l.Check(req(long + "b")); err != nil {
		t.Errorf("another long key shares a bucket: %v", err)
	}
	if limited, _ := l.Limited(long); !limited {
		t.Error("Limited does not find the long key's bucket")
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

// TestByClientIP: the client address as clientip resolved it, IPv6
// clients by their /64. A library user had only ByHeader and keyed by
// hand; keyed by the whole IPv6 address (or by RemoteAddr, port
// included), each request from a new address of one /64 had a full
// bucket.
func TestByClientIP(t *testing.T) {
	l, err := New(Config{Rate: 1, Burst: 1, Key: ByClientIP(0)})
	if err != nil {
		t.Fatal(err)
	}
	from := func(remote string, client *netip.Addr) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if client != nil {
			r = r.WithContext(clientip.NewContext(r.Context(), *client))
		}
		return r
	}
	unknown := netip.Addr{}
	behind := netip.MustParseAddr("198.51.100.7")
	for _, tc := range []struct {
		name         string
		first, again *http.Request
	}{
		{"IPv6, one /64", from("[2001:db8:1:2::1]:4000", nil), from("[2001:db8:1:2:ffff::9]:4001", nil)},
		{"IPv4, another port", from("192.0.2.1:4000", nil), from("192.0.2.1:4001", nil)},
		{"IPv4-mapped", from("192.0.2.2:4000", nil), from("[::ffff:192.0.2.2]:4001", nil)},
		{"resolved by clientip", from("10.0.0.1:4000", &behind), from("10.0.0.2:4001", &behind)},
		{"unknown behind a trusted proxy", from("10.0.0.1:4000", &unknown), from("10.0.0.3:4001", &unknown)},
	} {
		if err := l.Check(tc.first); err != nil {
			t.Errorf("%s: first request refused: %v", tc.name, err)
		}
		if err := l.Check(tc.again); !errors.Is(err, ErrLimited) {
			t.Errorf("%s: second request: %v, want ErrLimited (one bucket)", tc.name, err)
		}
	}
	if err := l.Check(from("[2001:db8:1:3::1]:4000", nil)); err != nil {
		t.Errorf("another /64 shares a bucket: %v", err)
	}
	l48, err := New(Config{Rate: 1, Burst: 1, Key: ByClientIP(48)})
	if err != nil {
		t.Fatal(err)
	}
	_ = l48.Check(from("[2001:db8:1:2::1]:4000", nil))
	if err := l48.Check(from("[2001:db8:1:3::1]:4000", nil)); !errors.Is(err, ErrLimited) {
		t.Errorf("/48: %v, want ErrLimited", err)
	}
}

// TestConcurrencyNaNConfig: NewConcurrency replaced out-of-range
// Smoothing, Tolerance and Queue with defaults, but a NaN (what
// strconv.ParseFloat and YAML's .nan give for a config value) passed
// every comparison: the limit became NaN at the first update and
// Acquire, comparing with it, admitted every request. A NaN now takes
// the default.
func TestConcurrencyNaNConfig(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		cfg  ConcurrencyConfig
	}{
		{"Smoothing", ConcurrencyConfig{Smoothing: nan}},
		{"Tolerance", ConcurrencyConfig{Tolerance: nan}},
		{"Queue", ConcurrencyConfig{Queue: nan}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{time.Unix(1e9, 0)}
			cfg := tc.cfg
			cfg.Initial, cfg.Min, cfg.Max, cfg.Window, cfg.Now = 4, 4, 4, 100*time.Millisecond, c.now
			cl := NewConcurrency(cfg)
			// Windows at the limit: the limit updates.
			for range 50 {
				var dones []func()
				for range 4 {
					done, err := cl.Acquire()
					if err != nil {
						t.Fatal(err)
					}
					dones = append(dones, done)
				}
				c.advance(50 * time.Millisecond)
				for _, d := range dones {
					d()
				}
			}
			var dones []func()
			defer func() {
				for _, d := range dones {
					d()
				}
			}()
			for {
				done, err := cl.Acquire()
				if err != nil {
					break
				}
				dones = append(dones, done)
				if len(dones) > 100 {
					t.Fatalf("never shed: %d requests in flight past a Max of 4", len(dones))
				}
			}
			if len(dones) != 4 {
				t.Errorf("admitted %d in flight, want 4", len(dones))
			}
		})
	}
}
