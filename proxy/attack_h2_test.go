package proxy

// HTTP/2 attacks sent as raw frames (golang.org/x/net/http2's Framer), so
// that the proxy, not a client library, decides what a malformed request
// becomes.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conn is a raw HTTP/2 connection to the proxy.
type h2Conn struct {
	c  *tls.Conn
	fr *http2.Framer
}

// dialH2 opens an HTTP/2 connection over mutual TLS as who and sends the
// preface and an empty SETTINGS frame.
func (h *harness) dialH2(t *testing.T, who string) *h2Conn {
	t.Helper()
	cfg := h.client(who).Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(h.url, "https://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return &h2Conn{c: conn, fr: fr}
}

// hpackBlock encodes name, value pairs as they are, in order: no
// validation, no lower-casing.
func hpackBlock(fields ...string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return buf.Bytes()
}

// result reads frames until stream id gets its response headers (their
// :status), a reset ("RST") or the connection a GOAWAY ("GOAWAY").
func (c *h2Conn) result(id uint32) string {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return "ERR " + err.Error()
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				return f.PseudoValue("status")
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return "RST"
			}
		case *http2.GoAwayFrame:
			return "GOAWAY"
		}
	}
}

// anyMethod is the harness's policies with the web workload allowed any
// method on /api/*.
var anyMethod = strings.Replace(policies, `methods: ["GET"], `, "", 1)

// TestAttackHTTP2Frames replays malformed and ambiguous HTTP/2 requests
// and holds the proxy to refusing them before the upstream, or to
// forwarding exactly what was checked. A :method that is not a token
// (GE"T) used to be checked, then refused by the upstream transport and
// recorded as a 502 upstream error; the rest held already: Go's HTTP/2
// server resets streams with upper-case header names, CR, LF or NUL in
// values, pseudo-headers after regular ones, a :path not starting with
// '/', a Content-Length the DATA frames exceed or two of them, and refuses
// connection-specific headers and a TE other than trailers; a Host beside
// :authority is dropped (the checks and the upstream see :authority).
func TestAttackHTTP2Frames(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod})
	get := []string{":method", "GET", ":scheme", "https", ":authority", "api", ":path", "/api/items"}
	post := []string{":method", "POST", ":scheme", "https", ":authority", "api", ":path", "/api/items", "content-type", "text/plain"}
	with := func(base []string, more ...string) []string { return append(append([]string(nil), base...), more...) }
	tests := []struct {
		name   string
		fields []string
		body   string
		want   string // :status, or RST
		host   string // Host the upstream receives; "" for no request
	}{
		{"host beside authority", with(get, "host", "admin.example"), "", "200", "api"},
		{"upper-case name", with(get, "X-Debug", "1"), "", "RST", ""},
		{"te gzip", with(get, "te", "gzip"), "", "400", ""},
		{"transfer-encoding", with(post, "transfer-encoding", "chunked"), "0\r\n\r\n", "400", ""},
		{"connection", with(get, "connection", "x-tenant"), "", "400", ""},
		{"keep-alive", with(get, "keep-alive", "1"), "", "400", ""},
		{"content-length under the data", with(post, "content-length", "3"), "hello", "RST", ""},
		{"two content-lengths", with(post, "content-length", "5", "content-length", "50"), "hello", "RST", ""},
		{"path without slash", []string{":method", "GET", ":scheme", "https", ":authority", "api", ":path", "api/items"}, "", "RST", ""},
		{"absolute path", []string{":method", "GET", ":scheme", "https", ":authority", "api", ":path", "https://admin/api/items"}, "", "RST", ""},
		{"pseudo after regular", []string{":method", "GET", "x-a", "1", ":scheme", "https", ":authority", "api", ":path", "/api/items"}, "", "RST", ""},
		{"value with CRLF", with(get, "x-a", "b\r\nX-Spiffe-Id: spiffe://example.org/ns/shop/sa/admin"), "", "RST", ""},
		{"value with NUL", with(get, "x-a", "b\x00c"), "", "RST", ""},
		{"authority with userinfo", []string{":method", "GET", ":scheme", "https", ":authority", "admin@api", ":path", "/api/items"}, "", "RST", ""},
		{"method with quote", []string{":method", `GE"T`, ":scheme", "https", ":authority", "api", ":path", "/api/items"}, "", "400", ""},
		{"method with braces", []string{":method", "G{}", ":scheme", "https", ":authority", "api", ":path", "/api/items"}, "", "400", ""},
		{"method with space", []string{":method", "GET /admin", ":scheme", "https", ":authority", "api", ":path", "/api/items"}, "", "400", ""},
		{"extended CONNECT", []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":authority", "api", ":path", "/api/items"}, "", "RST", ""},
	}
	for i, tt := range tests {
		c := h.dialH2(t, "web")
		before := len(u.requests())
		fields := with(tt.fields, "x-client", "h2-"+string(rune('a'+i)))
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(fields...), EndStream: tt.body == "", EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if tt.body != "" {
			_ = c.fr.WriteData(1, true, []byte(tt.body))
		}
		got := c.result(1)
		_ = c.c.Close()
		if got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
		reqs := u.requests()[before:]
		switch {
		case tt.host == "" && len(reqs) != 0:
			t.Errorf("%s: the upstream received %q", tt.name, reqs)
		case tt.host != "" && (len(reqs) != 1 || strings.Join(header(reqs[0], "Host"), ",") != tt.host):
			t.Errorf("%s: the upstream received %q, want one request with Host %s", tt.name, reqs, tt.host)
		}
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	if log := h.audit.String(); strings.Contains(log, `"status":502`) || strings.Contains(log, "upstream error") {
		t.Errorf("a request the proxy refused was recorded as an upstream error:\n%s", log)
	}
}

// TestAttackHTTP2ResetMidBody: a client that resets its stream after the
// checks passed and part of the body was forwarded leaves the upstream
// without a whole request (its body is cut off), and the record says the
// client closed (499), with or without a Content-Length.
func TestAttackHTTP2ResetMidBody(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod})
	for i, cl := range []string{"10", ""} {
		c := h.dialH2(t, "web")
		f := []string{":method", "POST", ":scheme", "https", ":authority", "api", ":path", "/api/items", "content-type", "text/plain", "x-client", "reset" + cl}
		if cl != "" {
			f = append(f, "content-length", cl)
		}
		_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(f...), EndHeaders: true})
		_ = c.fr.WriteData(1, false, []byte("hello"))
		// Wait until the upstream holds the request's head.
		deadline := time.Now().Add(5 * time.Second)
		for u.headsRead() == i && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		_ = c.fr.WriteRSTStream(1, http2.ErrCodeCancel)
		for u.abortedBodies() < i+1 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		_ = c.c.Close()
		if n := u.abortedBodies(); n != i+1 {
			t.Errorf("content-length %q: %d bodies cut off at the upstream, want %d", cl, n, i+1)
		}
	}
	if reqs := u.requests(); len(reqs) != 0 {
		t.Errorf("the upstream received whole requests: %q", reqs)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(h.audit.String(), `"outcome":"client closed"`) < 2 && time.Now().Before(deadline) {
		_ = h.srv.auditBuf.Flush()
		time.Sleep(10 * time.Millisecond)
	}
	if log := h.audit.String(); strings.Count(log, `"status":499`) != 2 {
		t.Errorf("audit records, want two 499s (client closed):\n%s", log)
	}
}

// TestAttackHTTP2ContinuationFlood: a header block that never ends
// (HEADERS without END_HEADERS, then CONTINUATION frames without end,
// CVE-2023-45288) is cut off: the connection is closed long before 80 MB
// of frames are read, and nothing reaches the upstream.
func TestAttackHTTP2ContinuationFlood(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	c := h.dialH2(t, "web")
	_ = c.c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(":method", "GET", ":scheme", "https", ":authority", "api", ":path", "/api/items")}); err != nil {
		t.Fatal(err)
	}
	chunk := hpackBlock("x-pad", strings.Repeat("a", 4000))
	const frames = 20000
	sent := 0
	for ; sent < frames; sent++ {
		if err := c.fr.WriteContinuation(1, false, chunk); err != nil {
			break
		}
	}
	if sent == frames {
		t.Errorf("the proxy read %d CONTINUATION frames (%d MB) of one header block", frames, frames*len(chunk)>>20)
	}
	if got := u.requests(); len(got) != 0 {
		t.Errorf("the upstream received %q", got)
	}
}

// TestAttackHTTP2ValueWhitespace: an HTTP/2 field value may not start or
// end with white space (RFC 9113 8.2.1), but Go's HTTP/2 server let
// "x-tenant: \tadmin" through: a DENY of X-Tenant "admin" compared the
// value with its tab and did not match, and the upstream, which got it
// over HTTP/1.1, where leading and trailing white space is not part of a
// value (RFC 9112 5), read "admin". Such a request is refused with 400,
// before any check; over HTTP/1.1 the value is trimmed for both.
func TestAttackHTTP2ValueWhitespace(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: denyAdminTenant + policies})
	get := []string{":method", "GET", ":scheme", "https", ":authority", "api", ":path", "/api/items"}
	for i, tt := range []struct {
		value, want string
		forwarded   bool
	}{
		{"admin", "403", false},
		{" admin", "400", false},
		{"admin ", "400", false},
		{"\tadmin", "400", false},
		{"admin\t", "400", false},
		{"ad min", "200", true},
		{"public", "200", true},
	} {
		c := h.dialH2(t, "web")
		before := len(u.requests())
		fields := append(append([]string(nil), get...), "x-tenant", tt.value, "x-client", "ws-"+string(rune('a'+i)))
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(fields...), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		got := c.result(1)
		_ = c.c.Close()
		reqs := u.requests()[before:]
		if got != tt.want || (len(reqs) == 1) != tt.forwarded {
			t.Errorf("x-tenant %q: %s, the upstream received %q; want %s", tt.value, got, reqs, tt.want)
		}
	}
}

// TestAttackAuditForgedCut: an HTTP/2 :method is any field value, and
// the audit record marked a cut method with "…(+N bytes)" in its value,
// so a client sending "DELETE…(+9000 bytes)" left a record that read as
// a 9006-byte DELETE... method cut by the proxy. A cut is now said by
// the record's method_truncated and method_bytes, which no value forges.
func TestAttackAuditForgedCut(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod})
	forged, long := "DELETE…(+9000 bytes)", strings.Repeat("M", 100)
	for _, m := range []string{forged, long} {
		c := h.dialH2(t, "web")
		f := []string{":method", m, ":scheme", "https", ":authority", "api", ":path", "/api/items"}
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(f...), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if got := c.result(1); got != "400" {
			t.Errorf("method %.20q: %s, want 400", m, got)
		}
		_ = c.c.Close()
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.audit.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("record %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if r := recs[0]; r["method"] != forged || r["method_truncated"] != nil || r["method_bytes"] != nil {
		t.Errorf("the forged method's record: method %q, method_truncated %v, method_bytes %v; want it as sent, not cut", r["method"], r["method_truncated"], r["method_bytes"])
	}
	if r := recs[1]; r["method"] != long[:64] || r["method_truncated"] != true || r["method_bytes"] != 100.0 {
		t.Errorf("the long method's record: method %q, method_truncated %v, method_bytes %v; want it cut at 64 of 100 bytes", r["method"], r["method_truncated"], r["method_bytes"])
	}
}

// TestAttackHTTP2QuerySpace: Go's HTTP/2 server lets a space through in
// :path, and the query was forwarded as it came, so the upstream's
// request line read "GET /api/items?a HTTP/1.1 /admin HTTP/1.1": a target
// and version other than the ones routed, authorized and inspected (an
// upstream splitting the line on its first and last space reads the
// target "/api/items?a HTTP/1.1 /admin", one splitting on the first two
// a version "HTTP/1.1 /admin HTTP/1.1"). Such a query is refused with 400
// before the upstream; a space in the path is still forwarded escaped
// (%20), as it was checked.
func TestAttackHTTP2QuerySpace(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod})
	for i, tt := range []struct {
		path, want, line string // line: the upstream's request line; "" for none
	}{
		{"/api/items?a HTTP/1.1 /admin", "400", ""},
		{"/api/items?q=1 2", "400", ""},
		{"/api/it ems?q=1", "200", "GET /api/it%20ems?q=1 HTTP/1.1"},
	} {
		c := h.dialH2(t, "web")
		before := len(u.requests())
		block := hpackBlock(":method", "GET", ":scheme", "https", ":authority", "api", ":path", tt.path, "x-client", "qs-"+string(rune('a'+i)))
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		got := c.result(1)
		_ = c.c.Close()
		reqs := u.requests()[before:]
		switch {
		case got != tt.want:
			t.Errorf(":path %q: %s, want %s", tt.path, got, tt.want)
		case tt.line == "" && len(reqs) != 0:
			t.Errorf(":path %q: the upstream received %q", tt.path, reqs)
		case tt.line != "" && (len(reqs) != 1 || !strings.HasPrefix(reqs[0], tt.line+"\r\n")):
			t.Errorf(":path %q: the upstream received %q, want one request %q", tt.path, reqs, tt.line)
		}
	}
}

// TestAttackURLLimitEscapedPath: limits.maxURLBytes measured the target
// as sent, but the path is forwarded escaped: 4,000 "é" (8,005 bytes,
// under the default 8,192) or 8,000 '"' reached the upstream as a
// 24,018-byte request line; so did a query httputil.ReverseProxy
// re-encodes (one with a ';' or a bad escape: "?;&a=é..." is forwarded
// as "?a=%C3%A9..."), with or without routes. The limit now measures the
// target as forwarded: 414, nothing forwarded.
func TestAttackURLLimitEscapedPath(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod})
	for i, p := range []string{"/api/" + strings.Repeat("é", 4000), "/api/" + strings.Repeat(`"`, 8000),
		"/api/x?;&a=" + strings.Repeat("é", 4000), "/api/x?a=%zz&b=" + strings.Repeat(`"`, 8000)} {
		before := len(u.requests())
		resp := h.raw(t, "web", "GET "+p+" HTTP/1.1\r\nHost: api\r\nX-Client: url-"+string(rune('a'+i))+"\r\nConnection: close\r\n\r\n")
		if got := u.requests()[before:]; status(resp) != http.StatusRequestURITooLong || len(got) != 0 {
			t.Errorf("a %d-byte target (%.20q...) forwarded escaped: %d, the upstream received %d requests; want 414 and none",
				len(p), p, status(resp), len(got))
		}
	}
	if code, _ := h.get(t, "web", "/api/items", "X-Client", "url-after"); code != http.StatusOK {
		t.Errorf("a short request got %d, want 200", code)
	}
}
