package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is an endpoint that answers each request with the next status
// of its script (200 once the script is used up) and keeps what it
// accepted.
type receiver struct {
	mu       sync.Mutex
	script   []int
	header   http.Header // extra response headers for non-2xx answers
	got      []map[string]any
	requests atomic.Int64
	bodies   [][]byte
	sigs     []string
	auth     []string
	block    chan struct{} // when set, requests wait for it
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	if r.block != nil {
		<-r.block
	}
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	status := http.StatusOK
	if len(r.script) > 0 {
		status, r.script = r.script[0], r.script[1:]
	}
	if status >= 200 && status < 300 {
		var alerts []map[string]any
		if err := json.Unmarshal(body, &alerts); err != nil {
			status = http.StatusBadRequest
		}
		r.got = append(r.got, alerts...)
		r.bodies = append(r.bodies, body)
		r.sigs = append(r.sigs, req.Header.Get("X-Ward-Signature"))
		r.auth = append(r.auth, req.Header.Get("Authorization"))
	} else {
		for k, v := range r.header {
			w.Header()[k] = v
		}
	}
	r.mu.Unlock()
	w.WriteHeader(status)
}

func alert(i int) []byte { return fmt.Appendf(nil, `{"id":"a%d","detector":"port-scan"}`+"\n", i) }

func TestDeliverBatchedAndSigned(t *testing.T) {
	r := &receiver{}
	srv := httptest.NewServer(r)
	defer srv.Close()
	s, err := New(Config{URL: srv.URL, Secret: []byte("s3cret"), Header: http.Header{"Authorization": {"Bearer t0ken"}}, Batch: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		if _, err := s.Write(alert(i)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Close(context.Background())
	if st.Delivered != 25 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 25 {
		t.Fatalf("received %d alerts", len(r.got))
	}
	for i, a := range r.got {
		if a["id"] != fmt.Sprintf("a%d", i) {
			t.Errorf("alert %d: %v (order kept)", i, a)
		}
	}
	for i, b := range r.bodies {
		m := hmac.New(sha256.New, []byte("s3cret"))
		m.Write(b)
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); r.sigs[i] != want {
			t.Errorf("request %d: signature %q, want %q", i, r.sigs[i], want)
		}
		if r.auth[i] != "Bearer t0ken" {
			t.Errorf("request %d: Authorization %q", i, r.auth[i])
		}
		var n []json.RawMessage
		if err := json.Unmarshal(b, &n); err != nil || len(n) > 10 {
			t.Errorf("request %d: %d alerts (batch 10), %v", i, len(n), err)
		}
	}
}

func TestRetries(t *testing.T) {
	for _, c := range []struct {
		name      string
		script    []int
		header    http.Header
		delivered uint64
		dropped   uint64
		attempts  uint64
	}{
		{"server errors then success", []int{500, 502, 200}, nil, 1, 0, 3},
		{"429 with Retry-After", []int{429, 200}, http.Header{"Retry-After": {"1"}}, 1, 0, 2},
		{"408 is retried", []int{408, 200}, nil, 1, 0, 2},
		{"400 is not retried", []int{400}, nil, 0, 1, 1},
		{"401 is not retried", []int{401}, nil, 0, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &receiver{script: c.script, header: c.header}
			srv := httptest.NewServer(r)
			defer srv.Close()
			var errs []string
			var mu sync.Mutex
			s, err := New(Config{URL: srv.URL, OnError: func(err error) { mu.Lock(); errs = append(errs, err.Error()); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, _ = s.Write(alert(1))
			st := s.Close(context.Background())
			if st.Delivered != c.delivered || st.Dropped != c.dropped || st.Attempts != c.attempts {
				t.Errorf("stats %+v, want delivered %d dropped %d attempts %d; errors %q", st, c.delivered, c.dropped, c.attempts, errs)
			}
			if c.header != nil && time.Since(start) < time.Second {
				t.Errorf("retried after %v despite Retry-After: 1", time.Since(start))
			}
			if c.dropped > 0 && len(errs) == 0 {
				t.Error("a dropped alert was not reported")
			}
		})
	}
}

// TestGiveUp: an endpoint that always fails gets the batch retried until
// GiveUpAfter, then dropped and counted.
func TestGiveUp(t *testing.T) {
	r := &receiver{script: []int{503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503}}
	srv := httptest.NewServer(r)
	defer srv.Close()
	s, err := New(Config{URL: srv.URL, GiveUpAfter: 1500 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write(alert(1))
	_, _ = s.Write(alert(2))
	st := s.Close(context.Background())
	if st.Delivered != 0 || st.Dropped != 2 || st.Attempts < 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestStalledEndpointNeverBlocks: with the endpoint stalled, Write stays
// immediate; alerts past the queue are dropped and counted; Close gives
// up at its deadline and counts what was left.
func TestStalledEndpointNeverBlocks(t *testing.T) {
	r := &receiver{block: make(chan struct{})}
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer close(r.block)
	s, err := New(Config{URL: srv.URL, Queue: 10, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	for r.requests.Load() == 0 {
		_, _ = s.Write(alert(0)) // the first batch is in flight, stalled
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	for i := range 1000 {
		_, _ = s.Write(alert(i))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("1,000 writes took %v with a stalled endpoint", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	st := s.Close(ctx)
	written := st.Delivered + st.Dropped
	if st.Delivered != 0 || st.Dropped < 990 || written < 1000 {
		t.Errorf("stats %+v: every alert must be delivered or counted as dropped", st)
	}
}

func TestURLChecked(t *testing.T) {
	for _, u := range []string{"http://alerts.example.com/hook", "ftp://x/", "https:///nohost", "://bad", "http://10.0.0.1/hook"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"https://alerts.example.com/hook", "http://127.0.0.1:9/hook", "http://[::1]:9/", "http://localhost:9/"} {
		s, err := New(Config{URL: u})
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		s.Close(context.Background())
	}
	// A token in the URL never reaches a message.
	_, err := New(Config{URL: "http://user:pa55word@alerts.example.com/hook?token=t0ps3cret"})
	if err == nil || strings.Contains(err.Error(), "pa55word") || strings.Contains(err.Error(), "t0ps3cret") {
		t.Errorf("error %v", err)
	}
}

func TestErrorsHideTheURL(t *testing.T) {
	var errs []string
	var mu sync.Mutex
	// Nothing listens on port 9 of the loopback: the connection fails.
	s, err := New(Config{URL: "http://127.0.0.1:9/hook?token=t0ps3cret", GiveUpAfter: 300 * time.Millisecond,
		OnError: func(err error) { mu.Lock(); errs = append(errs, err.Error()); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write(alert(1))
	s.Close(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 {
		t.Fatal("no error reported")
	}
	for _, e := range errs {
		if strings.Contains(e, "t0ps3cret") {
			t.Errorf("error message holds the URL's token: %s", e)
		}
	}
}
