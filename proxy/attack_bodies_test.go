package proxy

// Request smuggling through the body of a GET, HEAD or TRACE (CL.0
// desync), and an upstream sending a huge response header section.

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/wardsec/ward/internal/testenv"
)

// cl0Upstream is an HTTP/1.1 upstream on loopback with a CL.0 bug, as
// many servers and frameworks have: it reads the head of a GET, HEAD or
// TRACE request and ignores its body, whose bytes it then reads as the
// next request on the connection. It records the request line of every
// request it parses and answers each with an empty 200.
type cl0Upstream struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
}

func newCL0Upstream(t *testing.T) *cl0Upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &cl0Upstream{ln: ln}
	serveConns(t, ln, u.serve)
	return u
}

func (u *cl0Upstream) URL() string { return "http://" + u.ln.Addr().String() }

// requestLines returns the request lines parsed so far.
func (u *cl0Upstream) requestLines() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.lines...)
}

func (u *cl0Upstream) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		line := ""
		for line == "" { // empty lines before a request line are skipped (RFC 9112 2.2)
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(l, "\r\n")
		}
		u.mu.Lock()
		u.lines = append(u.lines, line)
		u.mu.Unlock()
		method, _, _ := strings.Cut(line, " ")
		var length int64
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimRight(l, "\r\n")
			if l == "" {
				break
			}
			if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Content-Length") {
				length, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
		if method != "GET" && method != "HEAD" && method != "TRACE" { // the bug: their bodies are left to be read as requests
			if _, err := io.CopyN(io.Discard, br, length); err != nil {
				return
			}
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); err != nil {
			return
		}
	}
}

// smuggled is a request the policies deny (/admin), written as a body.
const smuggled = "GET /admin HTTP/1.1\r\nHost: api\r\nX-Smuggled: 1\r\n\r\n"

// waitLines returns the request lines u parsed after the first before,
// once none came for a moment.
func waitLines(u *cl0Upstream, before int) []string {
	n := -1
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		lines := u.requestLines()
		if len(lines) == n {
			break
		}
		n = len(lines)
	}
	return u.requestLines()[before:]
}

// TestAttackBodyOnGET (CL.0 desync): a GET, HEAD or TRACE with a body
// was authorized as a request of its path and forwarded with its body;
// an upstream ignoring that body ran the request written in it (a GET of
// /admin, which a policy denies). Such requests are refused with 400,
// recorded as denials by rule limits, before anything is forwarded,
// whatever the header names' case or framing; Content-Length: 0 passes.
func TestAttackBodyOnGET(t *testing.T) {
	u := newCL0Upstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod})
	chunked := fmt.Sprintf("%x\r\n\r\n%s\r\n0\r\n\r\n", len(smuggled)+2, smuggled) // the body starts with CR LF: a line the upstream skips
	cl := func(name string) string { return fmt.Sprintf("%s: %d\r\n\r\n%s", name, len(smuggled), smuggled) }
	for _, tt := range []struct {
		name, method, rest string // rest: the headers after Host, the blank line and the body
		want               int
	}{
		{"Content-Length", "GET", cl("Content-Length"), 400},
		{"lower-case content-length", "GET", cl("content-length"), 400},
		{"upper-case CONTENT-LENGTH", "GET", cl("CONTENT-LENGTH"), 400},
		{"odd-case cOnTeNt-LeNgTh", "GET", cl("cOnTeNt-LeNgTh"), 400},
		{"chunked", "GET", "Transfer-Encoding: chunked\r\n\r\n" + chunked, 400},
		{"lower-case chunked", "GET", "transfer-encoding: Chunked\r\n\r\n" + chunked, 400},
		{"chunked and Content-Length 0", "GET", "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked, 400},
		{"empty chunked", "GET", "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"HEAD", "HEAD", cl("Content-Length"), 400},
		{"TRACE", "TRACE", cl("Content-Length"), 400},
		{"Content-Length 0", "GET", "Content-Length: 0\r\n\r\n", 200},
		{"no body", "GET", "\r\n", 200},
	} {
		before := len(u.requestLines())
		resp := h.raw(t, "web", tt.method+" /api/items HTTP/1.1\r\nHost: api\r\nX-Client: "+tt.name+"\r\nConnection: close\r\n"+tt.rest)
		got := waitLines(u, before)
		if status(resp) != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, status(resp), tt.want)
		}
		switch {
		case tt.want != 200 && len(got) > 0:
			t.Errorf("%s: the upstream parsed %q", tt.name, got)
		case tt.want == 200 && (len(got) != 1 || got[0] != tt.method+" /api/items HTTP/1.1"):
			t.Errorf("%s: the upstream parsed %q, want the request alone", tt.name, got)
		}
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	log := h.audit.String()
	for _, want := range []string{
		fmt.Sprintf(`"decision":"deny","reason":"GET with a body (Content-Length %d): an upstream ignoring it would read it as another request (request smuggling); limits.allowGetBody forwards GET bodies","rule":"limits"`, len(smuggled)),
		`"decision":"deny","reason":"GET with a body (Transfer-Encoding chunked): `,
		fmt.Sprintf(`"decision":"deny","reason":"HEAD with a body (Content-Length %d): an upstream ignoring it would read it as another request (request smuggling); HEAD bodies are always refused","rule":"limits"`, len(smuggled)),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("no audit record with %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, "X-Smuggled") {
		t.Errorf("the audit log holds the body:\n%s", log)
	}
}

// TestAttackBodyOnGETHTTP2: the same over HTTP/2, where a body is DATA
// frames, with or without a content-length; a GET whose stream ends with
// an empty DATA frame has no body and passes.
func TestAttackBodyOnGETHTTP2(t *testing.T) {
	u := newCL0Upstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod})
	head := func(method string, more ...string) []string {
		return append([]string{":method", method, ":scheme", "https", ":authority", "api", ":path", "/api/items"}, more...)
	}
	for i, tt := range []struct {
		name   string
		fields []string
		data   []string // DATA frames, the last ending the stream
		want   string
	}{
		{"content-length", head("GET", "content-length", strconv.Itoa(len(smuggled))), []string{smuggled}, "400"},
		{"no content-length", head("GET"), []string{smuggled}, "400"},
		{"two DATA frames", head("GET"), []string{"", smuggled}, "400"},
		{"HEAD", head("HEAD"), []string{smuggled}, "400"},
		{"TRACE", head("TRACE"), []string{smuggled}, "400"},
		{"empty DATA", head("GET"), []string{""}, "200"},
		{"content-length 0, empty DATA", head("GET", "content-length", "0"), []string{""}, "200"},
		{"no DATA", head("GET"), nil, "200"},
	} {
		c := h.dialH2(t, "web")
		before := len(u.requestLines())
		fields := append(tt.fields, "x-client", "h2-"+strconv.Itoa(i))
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(fields...), EndStream: len(tt.data) == 0, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		for j, d := range tt.data {
			if err := c.fr.WriteData(1, j == len(tt.data)-1, []byte(d)); err != nil {
				t.Fatal(err)
			}
		}
		got := c.result(1)
		_ = c.c.Close()
		lines := waitLines(u, before)
		if got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
		switch {
		case tt.want != "200" && len(lines) > 0:
			t.Errorf("%s: the upstream parsed %q", tt.name, lines)
		case tt.want == "200" && (len(lines) != 1 || lines[0] != "GET /api/items HTTP/1.1"):
			t.Errorf("%s: the upstream parsed %q, want the request alone", tt.name, lines)
		}
	}
}

// TestAllowGetBody: limits.allowGetBody forwards a GET's body (a search
// API), on an upstream connection closed after it; per route, as the
// other limits, replacing the top-level limits; HEAD bodies stay
// refused.
func TestAllowGetBody(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, replace: []string{"limits: {maxBodyBytes: 1024}\n",
		"limits: {maxBodyBytes: 1024}\nroutes:\n  - name: search\n    match: {prefix: /api/search}\n    limits: {allowGetBody: true}\n  - name: rest\n    match: {prefix: /}\n"}})
	const query = `{"query":{"match_all":{}}}`
	body := fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(query), query)
	for i, tt := range []struct {
		method, path, rest string
		want               int
	}{
		{"GET", "/api/search", body, 200},
		{"GET", "/api/search", "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(query), query), 200},
		{"GET", "/api/search", "\r\n", 200},
		{"HEAD", "/api/search", body, 400},
		{"GET", "/api/items", body, 400},
	} {
		before := len(u.requests())
		resp := h.raw(t, "web", tt.method+" "+tt.path+" HTTP/1.1\r\nHost: api\r\nX-Client: allow-"+strconv.Itoa(i)+"\r\nConnection: close\r\n"+tt.rest)
		got := u.requests()[before:]
		if status(resp) != tt.want {
			t.Errorf("%s %s %q: status %d, want %d", tt.method, tt.path, tt.rest, status(resp), tt.want)
			continue
		}
		if tt.want != 200 {
			if len(got) > 0 {
				t.Errorf("%s %s: the upstream received %q", tt.method, tt.path, got)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("%s %s: the upstream received %q", tt.method, tt.path, got)
		}
		withBody := tt.rest != "\r\n"
		if withBody && (!strings.HasSuffix(strings.ReplaceAll(got[0], "\r\n0\r\n\r\n", ""), query) || !slices.Equal(header(got[0], "Connection"), []string{"close"})) {
			t.Errorf("GET %s with a body: the upstream received %q, want the body and Connection: close", tt.path, got[0])
		}
		if !withBody && len(header(got[0], "Connection")) > 0 {
			t.Errorf("GET %s without a body: the upstream received %q, want its connection kept", tt.path, got[0])
		}
	}
}

// headerUpstream is an upstream on loopback that answers every request
// with a response header section of about size bytes: lines of 1 KiB,
// or one line when oneLine, made of marker repeated.
func headerUpstream(t *testing.T, size int, oneLine bool, marker string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\n")
	for n := 0; n < size; {
		line := strings.Repeat(marker, 1024/len(marker))
		if oneLine {
			line = strings.Repeat(marker, size/len(marker)+1)
		}
		fmt.Fprintf(&b, "X-Big-%d: %s\r\n", n, line)
		n += len(line)
	}
	b.WriteString("Content-Length: 3\r\n\r\nok\n")
	resp := b.String()
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
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						if _, err := io.WriteString(c, resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// TestAttackHugeResponseHeaders: a broken or compromised upstream could
// make the proxy buffer 10 MiB of response headers per request (Go's
// transport default). Past upstream.maxResponseHeaderBytes (1 MiB by
// default) the exchange is an upstream error, 502, and the headers'
// contents are in no audit record or log line.
func TestAttackHugeResponseHeaders(t *testing.T) {
	const marker = "hUgEhDr"
	for _, tt := range []struct {
		name    string
		size    int
		oneLine bool
		extra   string // upstream settings
		want    int
	}{
		{"2 MiB in lines", 2 << 20, false, "", 502},
		{"2 MiB in one line", 2 << 20, true, "", 502},
		{"512 KiB", 512 << 10, false, "", 200},
		{"8 KiB over maxResponseHeaderBytes 4096", 8 << 10, false, "  maxResponseHeaderBytes: 4096\n", 502},
	} {
		up := headerUpstream(t, tt.size, tt.oneLine, marker)
		var logBuf testenv.SyncBuffer
		h := startWith(t, setup{upstream: up, replace: []string{"  url: " + up + "\n", "  url: " + up + "\n" + tt.extra},
			log: slog.New(slog.NewTextHandler(&logBuf, nil))})
		code, body := h.get(t, "web", "/api/items", "X-Client", tt.name)
		if code != tt.want {
			t.Errorf("%s: status %d, want %d (%.200s)", tt.name, code, tt.want, body)
		}
		if err := h.srv.auditBuf.Flush(); err != nil {
			t.Fatal(err)
		}
		log := h.audit.String()
		if tt.want == 502 && (!strings.Contains(log, `"outcome":"upstream error"`) || !strings.Contains(log, `"status":502`)) {
			t.Errorf("%s: audit record:\n%.600s", tt.name, log)
		}
		if strings.Contains(log, marker) || strings.Contains(logBuf.String(), marker) {
			t.Errorf("%s: the response headers' contents were logged:\naudit: %.300s\nlog: %.300s", tt.name, log, logBuf.String())
		}
	}
}

// TestAttackOpenStreamGET: an HTTP/2 GET whose HEADERS frame leaves the
// stream open, followed by nothing. The body check waited for its first
// byte until the server's read timeout (30 s), holding the handler (100
// such streams per connection, before the rate and concurrency limits),
// and then recorded the server's timeout as the client's hang-up (499).
// It now waits a second: the request goes on without a body, and what the
// client sends after that is never read, so never forwarded.
func TestAttackOpenStreamGET(t *testing.T) {
	u := newCL0Upstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod})
	c := h.dialH2(t, "web")
	before := len(u.requestLines())
	const n = 5
	for i := range n {
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), EndHeaders: true,
			BlockFragment: hpackBlock(":method", "GET", ":scheme", "https", ":authority", "api", ":path", "/api/items", "x-client", "open-"+strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.c.SetDeadline(time.Now().Add(20 * time.Second)) // under the old 30 s wait: the old code fails here
	status := map[uint32]string{}
	for len(status) < n {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("%d of %d open-stream GETs answered: %v", len(status), n, err)
		}
		if f, ok := f.(*http2.MetaHeadersFrame); ok {
			status[f.StreamID] = f.PseudoValue("status")
		}
	}
	for id, s := range status {
		if s != "200" {
			t.Errorf("stream %d: %s, want 200 (a GET without a body)", id, s)
		}
	}
	// The body sent once the request went on reaches nobody.
	for i := range n {
		_ = c.fr.WriteData(uint32(2*i+1), true, []byte(smuggled))
	}
	lines := waitLines(u, before)
	if len(lines) != n {
		t.Errorf("the upstream parsed %q, want %d GETs of /api/items alone", lines, n)
	}
	for _, l := range lines {
		if l != "GET /api/items HTTP/1.1" {
			t.Errorf("the upstream parsed %q", l)
		}
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	if strings.Count(h.audit.String(), `"status":200`) != n || strings.Contains(h.audit.String(), `"status":499`) {
		t.Errorf("a server-side wait recorded as the client's hang-up: %s", h.audit.String())
	}
}
