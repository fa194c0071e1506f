package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardsec/ward/guard/audit"
)

// rawUpstream is an HTTP/1.1 upstream on loopback that records the raw
// bytes of every request it receives, as read from the socket, so that
// tests assert on what an upstream really gets, not on what a Go server
// makes of it. It answers 200 "ok", or 101 to an Upgrade request, after
// which it records every byte tunnelled to it.
type rawUpstream struct {
	ln net.Listener

	mu       sync.Mutex
	reqs     []string      // each request: request line, headers, body
	tunnel   bytes.Buffer  // bytes after a 101
	delay    time.Duration // before answering
	closed   int           // connections the proxy closed before the answer
	aborted  int           // requests whose body was cut off
	heads    int           // request heads read (whole requests or not)
	ended    int           // tunnels whose connection the proxy closed or reset
	sem      chan struct{} // capacity: requests served at once
	service  time.Duration // time to serve a request
	answered chan struct{}
}

func newRawUpstream(t *testing.T) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, answered: make(chan struct{}, 1000)}
	serveConns(t, ln, u.serve)
	return u
}

// serveConns accepts connections on ln and serves each with serve on its
// own goroutine until the test ends, when ln and every open connection
// are closed and the goroutines waited for.
func serveConns(t *testing.T, ln net.Listener, serve func(net.Conn)) {
	var wg sync.WaitGroup
	var conns sync.Map
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conns.Delete(c)
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		conns.Range(func(k, _ any) bool { _ = k.(net.Conn).Close(); return true })
		wg.Wait()
	})
}

func (u *rawUpstream) URL() string { return "http://" + u.ln.Addr().String() }

// setCapacity makes the upstream serve at most capacity requests at once,
// each taking service; others wait their turn.
func (u *rawUpstream) setCapacity(capacity int, service time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sem, u.service = make(chan struct{}, capacity), service
}

func (u *rawUpstream) setDelay(d time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.delay = d
}

// abortedBodies returns the number of request bodies cut off.
func (u *rawUpstream) abortedBodies() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.aborted
}

// headsRead returns the number of request heads read so far, whether
// their bodies came whole or not.
func (u *rawUpstream) headsRead() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.heads
}

// requests returns the raw requests received so far.
func (u *rawUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.reqs...)
}

// received returns every byte received so far, requests and tunnels.
func (u *rawUpstream) received() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return strings.Join(u.reqs, "") + u.tunnel.String()
}

// tunnelsEnded returns how many tunnels' connections the proxy has
// closed: every byte it relayed on them has been received by then.
func (u *rawUpstream) tunnelsEnded() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.ended
}

// header returns the values of header name (case-insensitive) in the raw
// request req.
func header(req, name string) []string {
	var out []string
	head, _, _ := strings.Cut(req, "\r\n\r\n")
	for i, line := range strings.Split(head, "\r\n") {
		if i == 0 {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(k, name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// requestLine returns the first line of the raw request req.
func requestLine(req string) string {
	line, _, _ := strings.Cut(req, "\r\n")
	return line
}

// serve reads requests by hand (request line, header lines, a
// Content-Length or chunked body) so that the bytes recorded are those on
// the wire.
func (u *rawUpstream) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		var raw bytes.Buffer
		length, chunked, upgrade := int64(0), false, false
		for n := 0; ; n++ {
			line, err := br.ReadString('\n')
			raw.WriteString(line)
			if err != nil {
				return
			}
			if line == "\r\n" {
				u.mu.Lock()
				u.heads++
				u.mu.Unlock()
				break
			}
			if n == 0 {
				continue
			}
			k, v, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
			v = strings.TrimSpace(v)
			switch strings.ToLower(k) {
			case "content-length":
				length, _ = strconv.ParseInt(v, 10, 64)
			case "transfer-encoding":
				chunked = strings.Contains(strings.ToLower(v), "chunked")
			case "upgrade":
				upgrade = true
			}
		}
		if chunked {
			abort := func() {
				u.mu.Lock()
				u.aborted++
				u.mu.Unlock()
			}
			for {
				line, err := br.ReadString('\n')
				raw.WriteString(line)
				if err != nil {
					abort()
					return
				}
				size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 64)
				if err != nil {
					abort()
					return
				}
				if _, err := io.CopyN(&raw, br, size+2); err != nil {
					abort()
					return
				}
				if size == 0 {
					break
				}
			}
		} else if _, err := io.CopyN(&raw, br, length); err != nil {
			u.mu.Lock()
			u.aborted++
			u.mu.Unlock()
			return
		}
		u.mu.Lock()
		u.reqs = append(u.reqs, raw.String())
		delay, sem, service := u.delay, u.sem, u.service
		u.mu.Unlock()
		if sem != nil {
			sem <- struct{}{}
			time.Sleep(service)
			<-sem
		}
		if delay > 0 {
			// Notice a proxy that gives up on the request meanwhile.
			_ = c.SetReadDeadline(time.Now().Add(delay))
			if _, err := br.Peek(1); err != nil && !isTimeout(err) {
				u.mu.Lock()
				u.closed++
				u.mu.Unlock()
				return
			}
			_ = c.SetReadDeadline(time.Time{})
		}
		if upgrade {
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+strings.Join(header(raw.String(), "Upgrade"), ", ")+"\r\n\r\n")
			buf := make([]byte, 4096)
			for {
				n, err := br.Read(buf)
				u.mu.Lock()
				u.tunnel.Write(buf[:n])
				if err != nil {
					u.ended++
				}
				u.mu.Unlock()
				if err != nil {
					return
				}
			}
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"); err != nil {
			return
		}
		select {
		case u.answered <- struct{}{}:
		default:
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// raw sends the raw HTTP/1.1 request text req over mutual TLS as the
// workload who, and returns the response text: everything read until the
// proxy closes the connection (send "Connection: close") or 5 s pass.
func (h *harness) raw(t *testing.T, who, req string) string {
	t.Helper()
	conn := h.dial(t, who)
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	return string(b)
}

// dial opens an HTTP/1.1 connection over mutual TLS as who.
func (h *harness) dial(t *testing.T, who string) *tls.Conn {
	t.Helper()
	cfg := h.client(who).Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(h.url, "https://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	return conn
}

// status returns the status code of a raw response.
func status(resp string) int {
	var code int
	_, _ = fmt.Sscanf(resp, "HTTP/1.1 %d", &code)
	return code
}

// TestIdleConnDeadline holds the upstream idle timeout to its meaning
// although the deadline is not set on every read: a connection that
// carries a byte more often than the timeout is never cut, one that
// stops is cut once idle (not later), and a deadline cleared from outside
// does not disable it.
func TestIdleConnDeadline(t *testing.T) {
	const idle = 300 * time.Millisecond
	client, server := net.Pipe()
	defer server.Close()
	ic := &idleConn{Conn: client, idle: idle}
	ic.touch()
	defer ic.Close()
	go func() {
		for range 12 { // 12 bytes 60 ms apart: 720 ms, more than twice idle
			if _, err := server.Write([]byte{'x'}); err != nil {
				return
			}
			time.Sleep(60 * time.Millisecond)
		}
	}()
	buf := make([]byte, 1)
	for i := range 12 {
		if _, err := ic.Read(buf); err != nil {
			t.Fatalf("read %d of a busy connection: %v", i, err)
		}
	}
	// Silence: the read fails with a timeout, idle after the last byte.
	last := time.Now()
	_, err := ic.Read(buf)
	waited := time.Since(last)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read of an idle connection: %v, want a timeout", err)
	}
	if waited < idle-20*time.Millisecond || waited > idle+time.Second {
		t.Fatalf("idle connection cut after %v, want about %v", waited, idle)
	}
	// A deadline cleared by someone else is armed again by the next read.
	ic.touch()
	_ = ic.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := ic.Read(buf); done <- err }()
	select {
	case err := <-done:
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read after the deadline was cleared: %v, want a timeout", err)
		}
	case <-time.After(idle + 2*time.Second):
		t.Fatal("clearing the read deadline disabled the idle timeout")
	}
}

// failingBody returns some bytes, then an error that is not io.EOF, as
// the body of an HTTP/2 request whose stream the client reset, or that
// carried more DATA than its Content-Length, reads.
type failingBody struct{ sent bool }

func (b *failingBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, "hel"), nil
	}
	return 0, errors.New("http2: stream reset by the client")
}

// TestClientBodyFailureNotUpstreamError: a request whose body the client
// broke off fails at the transport with the body's error, often before
// its context is canceled; it is the client's doing (499, "client
// closed"), never recorded as a 502 upstream error (TestAttackHTTP2Frames
// saw one under load).
func TestClientBodyFailureNotUpstreamError(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(upstream.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "proxy.yaml"), []byte("upstream: {url: \""+upstream.URL+"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "proxy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a, err := audit.New(&out, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Audit: a})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/api/items", &failingBody{})
	r.ContentLength = 5
	r.RemoteAddr = "192.0.2.7:41000"
	w := httptest.NewRecorder()
	p.Handler().ServeHTTP(w, r)
	if w.Code != statusClientClosed || strings.Contains(out.String(), "upstream error") || !strings.Contains(out.String(), `"outcome":"client closed"`) {
		t.Errorf("status %d, record %s; want 499 and outcome client closed", w.Code, out.String())
	}
}
