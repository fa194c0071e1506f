package harden

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadBodiless(t *testing.T) {
	req := func(method string, cl int64, te []string, body io.Reader) *http.Request {
		r := httptest.NewRequest(method, "/", body)
		r.ContentLength, r.TransferEncoding = cl, te
		return r
	}
	unknown := func(method, body string) *http.Request { // HTTP/2 without content-length
		return req(method, -1, nil, io.NopCloser(strings.NewReader(body)))
	}
	for _, tt := range []struct {
		name     string
		r        *http.Request
		allowGET bool
		want     string // the error, or the body read after
	}{
		{"GET Content-Length", req("GET", 5, nil, strings.NewReader("hello")), false, "GET with a body (Content-Length 5)"},
		{"GET chunked", req("GET", -1, []string{"chunked"}, strings.NewReader("hello")), false, "GET with a body (Transfer-Encoding chunked)"},
		{"HEAD", req("HEAD", 5, nil, strings.NewReader("hello")), true, "HEAD with a body (Content-Length 5)"},
		{"TRACE", req("TRACE", 5, nil, strings.NewReader("hello")), true, "TRACE with a body (Content-Length 5)"},
		{"GET DATA", unknown("GET", "hello"), false, "GET with a body (DATA frames)"},
		{"GET empty DATA", unknown("GET", ""), false, ""},
		{"GET Content-Length 0", req("GET", 0, nil, nil), false, ""},
		{"POST", req("POST", 5, nil, strings.NewReader("hello")), false, "hello"},
		{"GET allowed", req("GET", 5, nil, strings.NewReader("hello")), true, "hello"},
		{"GET DATA allowed", unknown("GET", "hello"), true, "hello"},
	} {
		body, cl := tt.r.Body, tt.r.ContentLength
		r, err := ReadBodiless(nil, tt.r, tt.allowGET)
		var be *BodyError
		switch {
		case err != nil && (!errors.As(err, &be) || err.Error() != tt.want):
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		case err == nil:
			got, _ := io.ReadAll(r.Body)
			if string(got) != tt.want {
				t.Errorf("%s: body %q, want %q", tt.name, got, tt.want)
			}
			if tt.want == "" && (r.ContentLength != 0 || r.Body != http.NoBody && r.Body != nil) {
				t.Errorf("%s: ContentLength %d, body %T, want none", tt.name, r.ContentLength, r.Body)
			}
		}
		if tt.r.Body != body || tt.r.ContentLength != cl {
			t.Errorf("%s: the caller's request was changed", tt.name)
		}
	}
}

// TestBodilessSmuggling replays the CL.0 desync through a
// httputil.ReverseProxy to a loopback upstream that ignores GET bodies
// and reads them as requests: without Bodiless the request written in
// the body (/admin) reaches it; with it the GET gets 400 and the
// upstream nothing.
func TestBodilessSmuggling(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for first := true; ; {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					switch l = strings.TrimRight(l, "\r\n"); {
					case l == "" && !first: // the head's end: a body is never read
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
						first = true
					case first && l != "":
						mu.Lock()
						lines = append(lines, l)
						mu.Unlock()
						first = false
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	target, _ := url.Parse("http://" + ln.Addr().String())
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}
	const smuggled = "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tt := range []struct {
		name    string
		h       http.Handler
		status  int
		upgoing []string
	}{
		{"ReverseProxy alone", rp, 200, []string{"GET /items HTTP/1.1", "GET /admin HTTP/1.1"}},
		{"behind Bodiless", Bodiless(false, rp), 400, nil},
	} {
		srv := httptest.NewServer(tt.h)
		mu.Lock()
		lines = nil
		mu.Unlock()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(smuggled), smuggled)
		resp, _ := io.ReadAll(c)
		_ = c.Close()
		var code int
		_, _ = fmt.Sscanf(string(resp), "HTTP/1.1 %d", &code)
		time.Sleep(200 * time.Millisecond) // the upstream reads the body as a request
		srv.Close()
		mu.Lock()
		got := slices.Clone(lines)
		mu.Unlock()
		if code != tt.status || !slices.Equal(got, tt.upgoing) {
			t.Errorf("%s: status %d, upstream parsed %q; want %d, %q", tt.name, code, got, tt.status, tt.upgoing)
		}
	}
}

// TestBodilessOpenStream: over HTTP/2 a GET whose stream stays open with
// nothing sent goes on without a body after bodilessWait (it waited for
// the server's read timeout), and what its client sends afterwards is
// never handed to the next handler.
func TestBodilessOpenStream(t *testing.T) {
	t.Cleanup(func(d time.Duration) func() { return func() { bodilessWait = d } }(bodilessWait))
	bodilessWait = 200 * time.Millisecond
	got := make(chan string, 1)
	srv := httptest.NewUnstartedServer(Bodiless(false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got <- fmt.Sprintf("%q %v %d", b, err, r.ContentLength)
	})))
	srv.EnableHTTP2 = true
	srv.Config.ReadTimeout = 30 * time.Second
	srv.StartTLS()
	defer srv.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, pr)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	c.Timeout = 10 * time.Second // under the read timeout: without the bound this fails
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP/%d %d, want HTTP/2 200", resp.ProtoMajor, resp.StatusCode)
	}
	if g := <-got; g != `"" <nil> 0` {
		t.Errorf("the next handler read %s, want no body", g)
	}
}
