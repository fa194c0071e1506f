package proxy

// Response-queue poisoning through the body of a request whose method
// carries content of no defined semantics (OPTIONS, DELETE): forwarded
// by design, ignored by many upstream handlers.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// desyncUpstream is an HTTP/1.1 upstream on loopback whose handlers read
// the bodies of POST, PUT and PATCH only (a static file or CORS handler
// ignores the rest, a CL.0 bug): the body of an OPTIONS or DELETE is
// read as the next request on the connection. Each response's body is
// the request line it answers; /admin takes slow to answer.
type desyncUpstream struct {
	ln   net.Listener
	slow time.Duration
}

func newDesyncUpstream(t *testing.T, slow time.Duration) *desyncUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &desyncUpstream{ln: ln, slow: slow}
	serveConns(t, ln, u.serve)
	return u
}

func (u *desyncUpstream) URL() string { return "http://" + u.ln.Addr().String() }

func (u *desyncUpstream) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		line := ""
		for line == "" {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(l, "\r\n")
		}
		method, rest, _ := strings.Cut(line, " ")
		var length int64
		closing := false
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimRight(l, "\r\n")
			if l == "" {
				break
			}
			k, v, _ := strings.Cut(l, ":")
			switch {
			case strings.EqualFold(k, "Content-Length"):
				length, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			case strings.EqualFold(k, "Connection") && strings.EqualFold(strings.TrimSpace(v), "close"):
				closing = true
			}
		}
		if method == "POST" || method == "PUT" || method == "PATCH" {
			if _, err := io.CopyN(io.Discard, br, length); err != nil {
				return
			}
		}
		if strings.HasPrefix(rest, "/admin") {
			time.Sleep(u.slow)
		}
		if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(line), line); err != nil {
			return
		}
		if closing {
			return
		}
	}
}

// TestAttackBodyDesyncOtherClient (response-queue poisoning): an
// OPTIONS or DELETE with a body is forwarded (their content is allowed),
// and an upstream ignoring the body read it as a request of its own, a
// GET of /admin that the policies deny. Its upstream connection went
// back to the pool with that response still to come, and the next
// request on it, another client's, got the /admin response (the
// attacker's own next request read /admin). The upstream connection of
// a request with a body on a method other than POST, PUT and PATCH is
// closed after it.
func TestAttackBodyDesyncOtherClient(t *testing.T) {
	u := newDesyncUpstream(t, 500*time.Millisecond)
	h := startWith(t, setup{upstream: u.URL(), policies: strings.Replace(anyMethod, `principals: ["example.org/ns/shop/sa/web"]`, `principals: ["example.org/ns/shop/sa/web", "example.org/ns/shop/sa/batch"]`, 1)})
	for i, method := range []string{"OPTIONS", "DELETE", "PROPFIND"} {
		attack := fmt.Sprintf("%s /api/items HTTP/1.1\r\nHost: api\r\nX-Client: desync-%d\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", method, i, len(smuggled), smuggled)
		// Another client, connected already, asks at once: the pooled
		// upstream connection, if kept, still owes the /admin response.
		vc := h.dial(t, "batch")
		resp := h.raw(t, "web", attack)
		if status(resp) != 200 || !strings.HasSuffix(resp, method+" /api/items HTTP/1.1") {
			t.Fatalf("%s: %q", method, resp)
		}
		if _, err := fmt.Fprintf(vc, "GET /api/items HTTP/1.1\r\nHost: api\r\nX-Client: victim-%d\r\nConnection: close\r\n\r\n", i); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(vc)
		_ = vc.Close()
		if victim := string(b); status(victim) != 200 || !strings.HasSuffix(victim, "GET /api/items HTTP/1.1") {
			t.Errorf("%s with a body: another client's GET /api/items got %q", method, victim)
		}
		time.Sleep(2 * u.slow) // let a connection left behind answer, so that the next case starts clean
	}
}
