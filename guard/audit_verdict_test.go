package guard_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardsec/ward/guard/audit"
	"github.com/wardsec/ward/guard/harden"
	"github.com/wardsec/ward/guard/ratelimit"
	"github.com/wardsec/ward/guard/waf"
)

// lockedBuffer is an audit output that a test reads while the server
// writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// auditRecord is the part of an audit record the test reads.
type auditRecord struct {
	Decision, Reason, Rule string
	Status                 int
}

// lastRecord waits for the audit record of the request just answered
// (written when its handler returns, which the client may see first).
func lastRecord(t *testing.T, out *lockedBuffer, n int) auditRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := out.lines()
		if len(lines) >= n && lines[0] != "" {
			var rec auditRecord
			if err := json.Unmarshal([]byte(lines[n-1]), &rec); err != nil {
				t.Fatalf("record %q: %v", lines[n-1], err)
			}
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records, want %d", len(lines), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAuditRecordsGuardRefusals: audit's Handler wraps "the middlewares
// that decide: each records its verdict with Set", but guard's own
// middlewares recorded none, so every request that ipallow, jwt, authz,
// ratelimit, the WAF or harden.Limits (or harden.Bodiless) refused behind it was logged, and
// counted in ward_guard_decisions_total, as decision "allow", reason "no
// rule applied": the denials that an alert on decision="deny" watches
// for never showed. Each Handler now records its refusal (and authz its
// allowing policy).
func TestAuditRecordsGuardRefusals(t *testing.T) {
	c, _ := newChain(t) // ipallow allows 10.0.0.0/8 only: loopback is refused
	rl, err := ratelimit.New(ratelimit.Config{Rate: 0.001, Burst: 1, Key: ratelimit.ByClientIP(64)})
	if err != nil {
		t.Fatal(err)
	}
	conc := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{Initial: 1, Min: 1, Max: 1})
	w, err := waf.New(waf.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()

	release := make(chan struct{})
	app := http.NewServeMux()
	app.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "app") })
	app.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-release })

	for _, tc := range []struct {
		name     string
		mw       func(http.Handler) http.Handler
		before   []string // requests sent first (their records counted)
		req      func(url string) *http.Request
		status   int
		rule     string
		decision string
	}{
		{name: "ipallow", mw: c.allow.Handler, status: http.StatusForbidden, rule: "ipallow", decision: audit.Deny},
		{name: "jwt", mw: c.jwt.Handler, status: http.StatusUnauthorized, rule: "jwt", decision: audit.Deny,
			req: func(url string) *http.Request {
				r, _ := http.NewRequest(http.MethodGet, url+"/", nil)
				r.Header.Set("Authorization", "Bearer e30.e30.c2ln")
				return r
			}},
		{name: "authz deny", mw: func(h http.Handler) http.Handler { return c.authz.Handler(nil, h) },
			req:    func(url string) *http.Request { r, _ := http.NewRequest(http.MethodGet, url+"/admin", nil); return r },
			status: http.StatusForbidden, rule: "authz/foo/deny-admin", decision: audit.Deny},
		{name: "authz allow", mw: func(h http.Handler) http.Handler { return c.authz.Handler(nil, h) },
			req:    func(url string) *http.Request { r, _ := http.NewRequest(http.MethodGet, url+"/healthz", nil); return r },
			status: http.StatusOK, rule: "authz/foo/probes", decision: audit.Allow},
		{name: "authz no match", mw: func(h http.Handler) http.Handler { return c.authz.Handler(nil, h) },
			req:    func(url string) *http.Request { r, _ := http.NewRequest(http.MethodGet, url+"/other", nil); return r },
			status: http.StatusForbidden, rule: "authz", decision: audit.Deny},
		{name: "ratelimit", mw: rl.Handler, before: []string{"/"}, status: http.StatusTooManyRequests, rule: "ratelimit", decision: audit.Deny},
		{name: "waf", mw: w.Handler, status: http.StatusForbidden, rule: "waf", decision: audit.Deny,
			req: func(url string) *http.Request {
				r, _ := http.NewRequest(http.MethodGet, url+"/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", nil)
				return r
			}},
		{name: "limits", mw: func(h http.Handler) http.Handler { return harden.Limits(1<<20, 64, h) }, status: http.StatusRequestURITooLong, rule: "limits", decision: audit.Deny,
			req: func(url string) *http.Request {
				r, _ := http.NewRequest(http.MethodGet, url+"/"+strings.Repeat("a", 100), nil)
				return r
			}},
		{name: "bodiless", mw: func(h http.Handler) http.Handler { return harden.Bodiless(false, h) }, status: http.StatusBadRequest, rule: "limits", decision: audit.Deny,
			req: func(url string) *http.Request {
				r, _ := http.NewRequest(http.MethodGet, url+"/", strings.NewReader("GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"))
				return r
			}},
		{name: "concurrency", mw: conc.Handler, before: []string{"/slow"}, status: http.StatusServiceUnavailable, rule: "concurrency", decision: audit.Deny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out lockedBuffer
			l, err := audit.New(&out, nil)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(l.Handler(tc.mw(app)))
			defer srv.Close()
			done := make(chan struct{})
			for _, p := range tc.before {
				go func() {
					defer close(done)
					if resp, err := http.Get(srv.URL + p); err == nil {
						_ = resp.Body.Close()
					}
				}()
				if p == "/slow" {
					// Wait until it holds the one slot.
					for deadline := time.Now().Add(5 * time.Second); !inFlight(conc); {
						if time.Now().After(deadline) {
							t.Fatal("the slow request never started")
						}
						time.Sleep(5 * time.Millisecond)
					}
				} else {
					<-done
				}
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
			if tc.req != nil {
				req = tc.req(srv.URL)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			n := len(tc.before) + 1
			slow := len(tc.before) > 0 && tc.before[0] == "/slow"
			if slow {
				n = 1 // the slow request, still in flight, has no record yet
			}
			rec := lastRecord(t, &out, n)
			if slow {
				close(release)
				<-done
			}
			if rec.Decision != tc.decision || rec.Rule != tc.rule || rec.Status != tc.status || rec.Reason == "" || rec.Reason == "no rule applied" {
				t.Errorf("audit record %+v, want decision %q, rule %q, status %d and a reason", rec, tc.decision, tc.rule, tc.status)
			}
		})
	}
}

// inFlight reports whether conc admits no further request now.
func inFlight(conc *ratelimit.Concurrency) bool {
	done, err := conc.Acquire()
	if err != nil {
		return true
	}
	done()
	return false
}
