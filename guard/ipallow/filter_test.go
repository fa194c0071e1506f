package ipallow

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardsec/ward/guard/clientip"
)

func newRequest(remote string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/admin", nil)
	req.RemoteAddr = remote
	return req
}

func withClient(req *http.Request, a netip.Addr) *http.Request {
	return req.WithContext(clientip.NewContext(req.Context(), a))
}

func TestFilterCheck(t *testing.T) {
	l := mustNew(t, prefixes("10.0.0.0/8", "2001:db8::/32"), prefixes("10.66.0.0/16"))
	f := NewFilter(l)
	for _, tc := range []struct {
		name  string
		req   *http.Request
		allow bool
	}{
		{"peer allowed", newRequest("10.1.2.3:5000"), true},
		{"peer IPv6 allowed", newRequest("[2001:db8::7]:5000"), true},
		{"peer mapped allowed", newRequest("[::ffff:10.1.2.3]:5000"), true},
		{"peer denied by deny rule", newRequest("10.66.0.1:5000"), false},
		{"peer outside", newRequest("203.0.113.7:5000"), false},
		{"peer unparseable", newRequest("@"), false},
		{"context client wins over peer", withClient(newRequest("10.1.2.3:5000"), netip.MustParseAddr("203.0.113.7")), false},
		{"context client allowed behind outside peer", withClient(newRequest("203.0.113.7:5000"), netip.MustParseAddr("10.1.2.3")), true},
		{"unknown client never falls back to the peer", withClient(newRequest("10.1.2.3:5000"), netip.Addr{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.Check(tc.req)
			if tc.allow && err != nil {
				t.Errorf("Check = %v, want nil", err)
			}
			if !tc.allow && !errors.Is(err, ErrDenied) {
				t.Errorf("Check = %v, want an error wrapping ErrDenied", err)
			}
		})
	}
}

func TestFilterWithoutList(t *testing.T) {
	for _, f := range []*Filter{new(Filter), NewFilter(nil)} {
		if err := f.Check(newRequest("10.1.2.3:5000")); !errors.Is(err, ErrDenied) {
			t.Errorf("Check without a List = %v, want ErrDenied", err)
		}
	}
}

func TestFilterHandler(t *testing.T) {
	f := NewFilter(mustNew(t, prefixes("10.0.0.0/8"), nil))
	var reached bool
	h := f.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest("203.0.113.7:5000"))
	if reached {
		t.Error("a denied request reached the handler")
	}
	if rec.Code != http.StatusForbidden {
		t.Errorf("status %d, want 403", rec.Code)
	}
	if body := rec.Body.String(); body != "Forbidden\n" || strings.Contains(body, "203.0.113.7") {
		t.Errorf("body %q, want just Forbidden", body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest("10.0.0.1:5000"))
	if !reached || rec.Code != http.StatusOK {
		t.Errorf("allowed request: reached %v, status %d", reached, rec.Code)
	}

	f.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "go away", http.StatusTeapot)
	}))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest("203.0.113.7:5000"))
	if rec.Code != http.StatusTeapot {
		t.Errorf("custom deny handler: status %d, want 418", rec.Code)
	}
	f.SetDenyHandler(nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest("203.0.113.7:5000"))
	if rec.Code != http.StatusForbidden {
		t.Errorf("deny handler reset: status %d, want 403", rec.Code)
	}
}

// TestFilterBehindClientIP chains the two middlewares as a service behind
// a proxy would: the allow list sees the client, not the proxy.
func TestFilterBehindClientIP(t *testing.T) {
	r, err := clientip.New(prefixes("10.0.0.0/8"))
	if err != nil {
		t.Fatal(err)
	}
	f := NewFilter(mustNew(t, prefixes("10.0.0.0/8", "198.51.100.0/24"), nil))
	h := r.Handler(f.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	for _, tc := range []struct {
		name, remote, xff string
		want              int
	}{
		{"allowed client via proxy", "10.0.0.5:1", "198.51.100.9", http.StatusOK},
		{"outside client via allowed proxy", "10.0.0.5:1", "203.0.113.7", http.StatusForbidden},
		{"outside client spoofing an allowed address", "10.0.0.5:1", "198.51.100.9, 203.0.113.7", http.StatusForbidden},
		{"outside peer claiming an allowed address", "203.0.113.7:1", "10.0.0.9", http.StatusForbidden},
		{"unknown client via allowed proxy", "10.0.0.5:1", "garbage", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(tc.remote)
			req.Header.Set("X-Forwarded-For", tc.xff)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

func TestFilterSetListConcurrent(t *testing.T) {
	open := mustNew(t, nil, nil)
	closed := mustNew(t, nil, prefixes("0.0.0.0/0", "::/0"))
	f := NewFilter(open)
	req := newRequest("10.0.0.1:1")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 1000 {
			if i%2 == 0 {
				f.SetList(closed)
			} else {
				f.SetList(open)
			}
			f.SetDenyHandler(http.NotFoundHandler())
		}
	})
	for range 1000 {
		_ = f.Check(req) // either answer is fine; the race detector checks the rest
	}
	wg.Wait()
}

func TestCheckAllowedDoesNotAllocate(t *testing.T) {
	f := NewFilter(mustNew(t, prefixes("10.0.0.0/8"), nil))
	req := withClient(newRequest("192.0.2.1:1"), netip.MustParseAddr("10.1.1.1"))
	if n := testing.AllocsPerRun(100, func() {
		if f.Check(req) != nil {
			t.Fatal("denied")
		}
	}); n != 0 {
		t.Errorf("Check: %v allocations per run, want 0", n)
	}
}

// spoofOverTCP serves clientip's Handler in front of a Filter that allows
// 10.0.0.0/8 on a real listener at addr, and returns the status a client
// on loopback gets when it claims 10.0.0.9 in X-Forwarded-For.
func spoofOverTCP(t *testing.T, res *clientip.Resolver, addr string) (int, error) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 0, err
	}
	f := NewFilter(mustNew(t, prefixes("10.0.0.0/8"), nil))
	srv := &http.Server{
		Handler:           res.Handler(f.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "internal") }))),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()
	req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/admin", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Forwarded-For", "10.0.0.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// TestTrustEveryAddressRefused: a trusted prefix that covers a whole
// family (nginx tutorials copy "set_real_ip_from 0.0.0.0/0") made every
// peer a trusted proxy and every hop trusted, so the resolver returned the
// left-most hop, which the client writes: a client on loopback claiming
// 10.0.0.9 passed an allow list of 10.0.0.0/8 (200). clientip.New now
// refuses such a prefix.
func TestTrustEveryAddressRefused(t *testing.T) {
	for _, tc := range []struct{ prefix, listen string }{
		{"0.0.0.0/0", "127.0.0.1:0"},
		{"10.1.2.3/0", "127.0.0.1:0"}, // host bits are masked
		{"::ffff:0.0.0.0/96", "127.0.0.1:0"},
		{"::/0", "[::1]:0"},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			res, err := clientip.New(prefixes("192.0.2.0/24", tc.prefix))
			if err == nil {
				status, serr := spoofOverTCP(t, res, tc.listen)
				t.Fatalf("clientip.New(%s) = nil error; a loopback client claiming 10.0.0.9 got status %d (%v) past an allow list of 10.0.0.0/8", tc.prefix, status, serr)
			}
			if !errors.Is(err, clientip.ErrConfig) || !strings.Contains(err.Error(), "trusted prefix 1") {
				t.Errorf("clientip.New(%s) = %v, want ErrConfig naming trusted prefix 1", tc.prefix, err)
			}
		})
	}
	// A narrow trust still resolves the client and refuses the spoof.
	res, err := clientip.New(prefixes("192.0.2.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if status, err := spoofOverTCP(t, res, "127.0.0.1:0"); err != nil || status != http.StatusForbidden {
		t.Errorf("untrusted loopback client claiming 10.0.0.9: status %d (%v), want 403", status, err)
	}
}
