package proxy

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAttackWAFMultipartHidden: the WAF reads multipart bodies with Go's
// mime/multipart, as Coraza does; PHP reads them otherwise, and the
// fields it read past the WAF reached the application uninspected: a
// part after the closing delimiter (Go stops there, PHP takes any line
// starting with the delimiter for a part, even inside the epilogue), and
// a part named as a file by the RFC 2231 filename* parameter alone (Go
// decodes it as the file name, and CRS does not inspect files; PHP knows
// filename only and puts the part in $_POST). Both are now inspected as
// the fields PHP reads.
func TestAttackWAFMultipartHidden(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n"})
	const ct = "multipart/form-data; boundary=B"
	const xss = "<script>alert(document.cookie)</script>"
	part := func(disposition, value string) string {
		return "--B\r\nContent-Disposition: form-data; " + disposition + "\r\n\r\n" + value + "\r\n"
	}
	tests := []struct {
		name, body string
		want       int
	}{
		{"field", part(`name="c"`, xss) + "--B--\r\n", 403},
		{"after the closing delimiter", part(`name="c"`, "ok") + "--B--\r\n" + part(`name="d"`, xss) + "--B--\r\n", 403},
		// The delimiter where Go reads none and PHP or Rack 2 may:
		// mid-line, after spaces, in a file, after a bare LF.
		{"after the closing delimiter, mid-line", part(`name="c"`, "ok") + "--B--\r\nbye--B\r\nContent-Disposition: form-data; name=\"d\"\r\n\r\n" + xss + "\r\n--B--\r\n", 400},
		{"in a file, after spaces", part(`name="f"; filename="a.txt"`, "data\r\n  --B\r\nContent-Disposition: form-data; name=\"d\"\r\n\r\n"+xss) + "--B--\r\n", 400},
		{"in a file, after a bare LF", part(`name="f"; filename="a.txt"`, "data\n--B\r\nContent-Disposition: form-data; name=\"d\"\r\n\r\n"+xss) + "--B--\r\n", 400},
		{"in a file, mid-line", part(`name="f"; filename="a.txt"`, strings.Repeat("x", 100)+"--B\r\nContent-Disposition: form-data; name=\"d\"\r\n\r\n"+xss) + "--B--\r\n", 400},
		{"in the preamble, mid-line", "junk--B\r\nContent-Disposition: form-data; name=\"d\"\r\n\r\n" + xss + "\r\n" + part(`name="c"`, "ok") + "--B--\r\n", 400},
		{"filename* alone", part(`name="c"; filename*=UTF-8''a.txt`, xss) + "--B--\r\n", 403},
		{"FILENAME* alone", part(`name="c"; FILENAME*=utf-8''a.txt`, xss) + "--B--\r\n", 403},
		{"filename with a space before =", part(`name="c"; filename ="a.txt"`, xss) + "--B--\r\n", 403},
		// Files stay uninspected, as CRS leaves them, and an epilogue
		// without a delimiter is nobody's field.
		{"file", part(`name="c"; filename="a.txt"`, xss) + "--B--\r\n", 200},
		{"file with filename*", part(`name="c"; filename="a.txt"; filename*=UTF-8''a.txt`, xss) + "--B--\r\n", 200},
		{"epilogue", part(`name="c"`, "ok") + "--B--\r\nbye " + xss + "\r\n", 200},
		{"benign", part(`name="c"`, "hello") + part(`name="d"`, "world") + "--B--\r\n", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "mp-" + tt.name, ctype: ct, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFBodyTypes: Coraza reads a body as its Content-Type says,
// and CRS inspects no XML attribute: a JSON document sent as a form (read
// as JSON by an application that parses the body whatever its type, as
// Flask's get_json(force=True) or express.json({type: "*/*"})) became
// form arguments that split the injection, and an injection in an XML
// attribute was never looked at. Both are now inspected.
func TestAttackWAFBodyTypes(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n"})
	tests := []struct {
		name, ctype, body string
		want              int
	}{
		{"json as form", "application/x-www-form-urlencoded", `{"id":"1' OR '1'='1"}`, 403},
		{"xml attribute", "application/xml", `<item id="1' OR '1'='1"/>`, 403},
		{"benign json as form", "application/x-www-form-urlencoded", `{"name":"lamp"}`, 200},
		{"benign xml", "application/xml", `<item id="42">lamp</item>`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "bt-" + tt.name, ctype: tt.ctype, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFQueryFragment: a '#' in the query of a request target
// (clients strip fragments, an attacker need not): Coraza cuts the URI
// at the first '#' before it reads arguments, so "?x=1#&q=<script>"
// gave the rules x only, while the proxy forwarded the query whole and
// a Go upstream (url.ParseRequestURI keeps '#' in RawQuery), or PHP
// behind nginx (QUERY_STRING), read q. CRS scores the raw fragment
// (920610, 5), so only the default threshold stopped it: with
// anomalyThreshold 10 the XSS (25 when seen) passed. Such a request is
// refused with 400 whatever the WAF's settings, as one with a '#' in
// its path is forwarded with it escaped.
func TestAttackWAFQueryFragment(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "waf: {mode: block, anomalyThreshold: 10}\n"})
	noWAF := startWith(t, setup{upstream: u.URL()})
	const xss = "%3Cscript%3Ealert(document.cookie)%3C/script%3E"
	checkTargets(t, u, []targetCase{
		{h, "/api/items?q=" + xss, 403, ""},
		{h, "/api/items?x=1#&q=" + xss, 400, ""},
		{h, "/api/items?#q=" + xss, 400, ""},
		{h, "https://api/api/items?x=1#&q=" + xss, 400, ""},
		{noWAF, "/api/items?x=1#&q=2", 400, ""},
		{h, "/api/items?x=1%23&q=ok", 200, "GET /api/items?x=1%23&q=ok HTTP/1.1"},
		{h, "/api/items?q=ok", 200, "GET /api/items?q=ok HTTP/1.1"},
	})
}

// TestAttackWAFQuotedCookie: Coraza splits a Cookie header at ';' and
// inspects each value as written, while Python's readers unquote a
// quoted value: Django (http.cookies._unquote) and Werkzeug (Flask)
// decode "\ooo" octal and "\c" escapes, and Werkzeug reads a quoted
// value across ';'. q="1\047 OR \0471\047=\0471" is 1' OR '1'='1 to the
// application, and passed the WAF; so did an injection split at a ';'
// inside quotes. Quoted cookie values are inspected unquoted too.
func TestAttackWAFQuotedCookie(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "waf: {mode: block}\n"})
	for _, tt := range []struct {
		cookie string
		want   int
	}{
		{`q=1' OR '1'='1`, 403},
		{`q="1\047 OR \0471\047=\0471"`, 403},
		{`a=b; q="1\047 OR \0471\047=\0471"; c=d`, 403},
		{`q="1\' OR \'1\'=\'1"`, 403},
		{`q="<scr\151pt>alert(1)</scr\151pt>"`, 403},
		{`q="x; union select password from users--"`, 403},
		{`session="abc\"def"; theme=dark`, 200},
		{`q="plain"; r="a\054b"`, 200},
	} {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Cookie", tt.cookie)
		if status(resp) != tt.want || (tt.want == 200) != (len(got) == 1) {
			t.Errorf("Cookie: %s: status %d, the upstream received %d requests; want %d", tt.cookie, status(resp), len(got), tt.want)
		}
	}
}

// TestAttackSlowBodyUnderWAF: the WAF reads a body whole before the
// upstream step, where upstream.minBodyRate was enforced: under the WAF
// a body sent a byte a second held its request, a goroutine and a
// concurrency slot for the listener's whole read timeout (30 s, not
// 5 s), and was then recorded as a body the WAF could not read (400,
// rule waf); so was a chunked body over limits.maxBodyBytes (not 413,
// rule limits). The minimum rate now holds for the WAF's read, and its
// read errors are answered and recorded as the upstream step answers
// them.
func TestAttackSlowBodyUnderWAF(t *testing.T) {
	t.Cleanup(func(d time.Duration) func() { return func() { bodyRateGrace = d } }(bodyRateGrace))
	bodyRateGrace = 500 * time.Millisecond
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n",
		replace: []string{"upstream:\n  url: ", "upstream:\n  minBodyRate: 1000\n  url: "}})
	conn := h.dial(t, "web")
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(40 * time.Second))
	_, _ = io.WriteString(conn, "POST /api/upload HTTP/1.1\r\nHost: api\r\nX-Client: slow\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("x", 100))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := io.WriteString(conn, "x"); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	b, _ := io.ReadAll(conn)
	if status(string(b)) != http.StatusRequestTimeout || time.Since(start) > 5*time.Second {
		t.Errorf("a body at a byte a second under the WAF: %.40q after %v, want 408 within 5 s", b, time.Since(start))
	}
	postBody(t, h, u, rawPost{path: "/api/upload", client: "chunked", ctype: "application/octet-stream", body: strings.Repeat("y", 5000), chunked: true}, 413)
	postBody(t, h, u, rawPost{path: "/api/upload", client: "ok", ctype: "application/x-www-form-urlencoded", body: "comment=hello+world"}, 200)
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(h.audit.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"outcome":"request body too slow"`) || !strings.Contains(lines[0], `"status":408`) ||
		!strings.Contains(lines[1], `"rule":"limits"`) || !strings.Contains(lines[1], `"status":413`) {
		t.Errorf("records:\n%s", h.audit.String())
	}
	if n := len(u.requests()); n != 1 {
		t.Errorf("the upstream received %d requests, want 1 (the body at a normal pace)", n)
	}
}

// TestAttackWAFCharset: the rules read a body's bytes as UTF-8 or Latin
// text, while body-parser (express.json()) decodes a JSON body in the
// charset its type names when it starts with "utf-": UTF-7 included,
// through iconv-lite. CRS checks the charset (920480) in the first
// parameter spelled "charset" in lower case, so "Charset=utf-7" scored
// nothing and {"q":"1+ACc- OR +ACc-1+ACc-+AD0-+ACc-1"}, which Express
// reads as 1' OR '1'='1, reached the upstream; spelled "charset" it
// scored 5, which a raised threshold let pass. A body in a charset that
// is not ASCII-compatible is now refused with 415, as a compressed one,
// and a multipart part in one with 400.
func TestAttackWAFCharset(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n"})
	raised := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block, anomalyThreshold: 10}\n"})
	const sqli7 = `{"q":"1+ACc- OR +ACc-1+ACc-+AD0-+ACc-1"}`
	tests := []struct {
		name  string
		h     *harness
		ctype string
		body  string
		want  int
	}{
		{"Charset=utf-7", h, "application/json; Charset=utf-7", sqli7, 415},
		{"CHARSET=UTF-7", h, "application/json; CHARSET=UTF-7", sqli7, 415},
		{"second charset", h, "application/json; charset=utf-8; Charset=utf-7", sqli7, 415},
		{"charset=utf-7, raised threshold", raised, "application/json; charset=utf-7", sqli7, 415},
		{"RFC 2231 charset*", raised, "application/json; charset*=utf-8''utf-7", sqli7, 415},
		{"text/xml in UTF-7", h, "text/xml; Charset=utf-7", "<a>1+ACc- OR +ACc-1+ACc-+AD0-+ACc-1</a>", 415},
		// Werkzeug 2 decodes a multipart field in its part's charset;
		// CRS 922110 scores 5.
		{"multipart part in UTF-7, raised threshold", raised, "multipart/form-data; boundary=B",
			"--B\r\nContent-Disposition: form-data; name=\"q\"\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n1+ACc- OR +ACc-1+ACc-+AD0-+ACc-1\r\n--B--\r\n", 400},
		{"multipart part in UTF-8", raised, "multipart/form-data; boundary=B",
			"--B\r\nContent-Disposition: form-data; name=\"q\"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nlamp\r\n--B--\r\n", 200},
		{"the same in UTF-8", h, "application/json; Charset=utf-8", `{"q":"1' OR '1'='1"}`, 403},
		{"benign UTF-8", h, "application/json; Charset=UTF-8", `{"q":"lamp"}`, 200},
		{"benign Latin-1", h, `application/json; charset="ISO-8859-1"`, `{"q":"lamp"}`, 200},
		{"benign without charset", h, "application/json", `{"q":"lamp"}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, tt.h, u, rawPost{path: "/api/items", client: "cs-" + tt.name, ctype: tt.ctype, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFCharsetSpellings: the charset check read a parameter name
// spelled charset and followed by spaces or tabs only. Werkzeug 2 (which
// decodes a multipart field in its part's charset) unquotes a quoted
// parameter name and skips Python's \s (Unicode spaces too, the part's
// header decoded as UTF-8) around the "="; Django strips the name of the
// request's Content-Type (decoded as Latin-1) with str.strip, which drops
// U+00A0 and U+0085, and decodes the form in that charset. A UTF-7
// injection under '"charset"=utf-7', or in a part under
// 'charset\u00a0=utf-7', reached the upstream, CRS scoring 5 (920470 or
// 922110), under a raised threshold. (The proxy refuses a request header
// that is not UTF-8 with 400, so Django's Latin-1 reading of
// 'charset\xa0=' is tested on the guard/waf library: TestCharsetRefused.)
func TestAttackWAFCharsetSpellings(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block, anomalyThreshold: 10}\n"})
	const sqli7 = "1+ACc- OR +ACc-1+ACc-+AD0-+ACc-1"
	part := func(ctype, value string) string {
		return "--B\r\nContent-Disposition: form-data; name=\"q\"\r\nContent-Type: " + ctype + "\r\n\r\n" + value + "\r\n--B--\r\n"
	}
	const mp = "multipart/form-data; boundary=B"
	tests := []struct {
		name, ctype, body string
		want              int
	}{
		{"quoted name", `application/json; "charset"=utf-7`, `{"q":"` + sqli7 + `"}`, 415},
		// The form check (method overrides, tokens) shares the
		// charset check and answers first.
		{"quoted name, form", `application/x-www-form-urlencoded; "Charset" = utf-7`, "q=" + url.QueryEscape(sqli7), 400},
		{"part, quoted name", mp, part(`text/plain; "charset"=utf-7`, sqli7), 400},
		{"part, UTF-8 NBSP before =", mp, part("text/plain; charset\u00a0=utf-7", sqli7), 400},
		{"benign, quoted name", `application/json; "charset"="utf-8"`, `{"q":"lamp"}`, 200},
		{"benign part, NBSP", mp, part("text/plain; charset\u00a0=utf-8", "lamp"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "csp-" + tt.name, ctype: tt.ctype, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFCharsetField: a form's _charset_ field (RFC 7578 4.6,
// HTML's hidden input) names the charset of the other fields to Jetty 12
// (multipart), Apache Sling (AEM: body and query) and mu-server. With
// _charset_=IBM037, `1' OR '1'='1` in EBCDIC reached the upstream from an
// urlencoded form or a query without a score, and from a multipart form
// past a threshold of 10 (CRS 922100 scored 5). Such a _charset_ is now
// refused with 415, as a Content-Type naming that charset is.
func TestAttackWAFCharsetField(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block, anomalyThreshold: 10}\n"})
	// 1' OR '1'='1 in IBM037.
	const ebcdic = "\xf1\x7d\x40\xd6\xd9\x40\x7d\xf1\x7d\x7e\x7d\xf1"
	const form = "application/x-www-form-urlencoded"
	mp := func(charset, value string) string {
		return "--B\r\nContent-Disposition: form-data; name=\"_charset_\"\r\n\r\n" + charset + "\r\n" +
			"--B\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n" + value + "\r\n--B--\r\n"
	}
	tests := []struct {
		name, ctype, body string
		want              int
	}{
		{"urlencoded", form, "_charset_=IBM037&q=" + url.QueryEscape(ebcdic), 415},
		{"urlencoded, escaped name", form, "%5fcharset%5f=cp037&q=" + url.QueryEscape(ebcdic), 415},
		{"multipart", "multipart/form-data; boundary=B", mp("IBM037", ebcdic), 415},
		{"browser form", form, "_charset_=UTF-8&q=lamp", 200},
		{"browser multipart", "multipart/form-data; boundary=B", mp("UTF-8", "lamp"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "csf-" + tt.name, ctype: tt.ctype, body: tt.body}, tt.want)
		})
	}
	t.Run("query", func(t *testing.T) {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items?_charset_=IBM037&q="+url.QueryEscape(ebcdic))
		if status(resp) != 415 || len(got) != 0 {
			t.Errorf("status %d, upstream received %q; want 415 and nothing", status(resp), got)
		}
	})
}

// TestAttackWAFJSONInUTF16: a Django view's json.loads(request.body), or
// Flask's get_json(force=True), reads a JSON document in UTF-16 or UTF-32
// whatever the Content-Type, as Python's json.loads detects the encoding
// from a byte order mark or from where the first bytes are NUL. The WAF
// read such a document's literals as UTF-8 and found no JSON (a BOM or a
// NUL first), so the rules saw NUL bytes only: CRS 920270 scored 10, and
// a UNION SELECT scoring 20 in UTF-8 passed a threshold of 15. The
// literals are now read as Python decodes them.
func TestAttackWAFJSONInUTF16(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block, anomalyThreshold: 15}\n"})
	const union = `{"q":"1 UNION SELECT password FROM users"}`
	utf32be := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteString("\x00\x00\x00")
			b.WriteByte(s[i])
		}
		return b.String()
	}
	utf16le := func(s string) string {
		be := utf16be(s)
		var b strings.Builder
		for i := 0; i+1 < len(be); i += 2 {
			b.WriteByte(be[i+1])
			b.WriteByte(be[i])
		}
		return b.String()
	}
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, ctype, body string
		want              int
	}{
		{"UTF-8", form, union, 403},
		{"UTF-32BE", form, utf32be(union), 403},
		{"UTF-32BE with BOM", form, "\x00\x00\xfe\xff" + utf32be(union), 403},
		{"UTF-16LE with BOM", form, "\xff\xfe" + utf16le(union), 403},
		{"UTF-16BE with BOM", form, "\xfe\xff" + utf16be(union), 403},
		{"UTF-16LE with BOM, as XML", "application/xml", "\xff\xfe" + utf16le(union), 400},
		{"benign UTF-16LE with BOM", form, "\xff\xfe" + utf16le(`{"q":"lamp"}`), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "u16-" + tt.name, ctype: tt.ctype, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFMultipartTransferEncoding: python-multipart, which reads
// forms for Starlette and FastAPI, decodes a part's base64 (and
// quoted-printable) Content-Transfer-Encoding; Go's reader, Coraza's,
// decodes quoted-printable only and hides its header. A UNION SELECT in
// base64 was text no rule matched: CRS 922120 (any
// Content-Transfer-Encoding) scored 5, and with anomalyThreshold 10 the
// part reached the upstream, where FastAPI's form held the injection. A
// part with an encoding other than 7bit, 8bit or binary, deprecated by
// RFC 7578 and sent by no browser, is refused with 400.
func TestAttackWAFMultipartTransferEncoding(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block, anomalyThreshold: 10}\n"})
	const ct = "multipart/form-data; boundary=B"
	part := func(cte, value string) string {
		if cte != "" {
			cte = "Content-Transfer-Encoding: " + cte + "\r\n"
		}
		return "--B\r\nContent-Disposition: form-data; name=\"q\"\r\n" + cte + "\r\n" + value + "\r\n--B--\r\n"
	}
	tests := []struct {
		name, body string
		want       int
	}{
		{"plain", part("", "1 UNION SELECT password FROM users"), 403},
		{"base64", part("base64", "MSBVTklPTiBTRUxFQ1QgcGFzc3dvcmQgRlJPTSB1c2Vycw=="), 400},
		{"quoted-printable", part("quoted-printable", "1=20UNION=20SELECT=20password=20FROM=20users"), 400},
		{"benign 8bit", part("8bit", "lamp"), 200},
		{"benign", part("", "lamp"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "cte-" + tt.name, ctype: ct, body: tt.body}, tt.want)
		})
	}
}

// TestWAFMultipartHttpClient4: Apache HttpClient 4's MultipartEntityBuilder
// (strict mode, its default) writes a Content-Transfer-Encoding on every
// part, 8bit for text and binary for files; CRS's 922120 scored 5 for
// each, and such uploads were refused (403) at the default threshold.
// Encodings that change bytes are refused with 400 before the rules run,
// so 922120 is off in block mode.
func TestWAFMultipartHttpClient4(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n"})
	const ct = "multipart/form-data; boundary=httpclient4"
	upload := "--httpclient4\r\nContent-Disposition: form-data; name=\"name\"\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nlamp\r\n" +
		"--httpclient4\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: binary\r\n\r\n\xff\xd8\xff\xe0 JFIF\r\n--httpclient4--\r\n"
	tests := []struct {
		name, body string
		want       int
	}{
		{"8bit and binary parts", upload, 200},
		{"a base64 part", strings.Replace(upload, "8bit", "base64", 1), 400},
		{"an attack in an 8bit part", strings.Replace(upload, "\r\nlamp\r\n", "\r\n1 UNION SELECT password FROM users\r\n", 1), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "hc4-" + tt.name, ctype: ct, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFXMLText: Coraza hands the rules each run of an XML body's
// text apart, as Go's reader splits it at comments, CDATA sections,
// processing instructions and child elements, and keeps an entity it
// does not know as "&x;". Java's getTextContent, .NET's InnerText and
// Python's ElementTree and lxml read an element's text as one string,
// and expand the entities an internal subset declares: a UNION SELECT
// split by "<!-- -->" or "<![CDATA[]]>", or declared as an entity,
// scored nothing at the default threshold and reached the upstream. An
// element's joined text is now inspected, and a document type
// declaration other than a bare <!DOCTYPE name> is refused with 400.
func TestAttackWAFXMLText(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n"})
	tests := []struct {
		name, body string
		want       int
	}{
		{"plain", `<q>1 UNION SELECT password FROM users</q>`, 403},
		{"split by a comment", `<q>1 UNI<!-- -->ON SELECT password FROM users</q>`, 403},
		{"split by CDATA", `<q>1 UNI<![CDATA[ON SEL]]>ECT password FROM users</q>`, 403},
		{"split by a child", `<r><q><a>1 UNI</a><b>ON SELECT password FROM users</b></q></r>`, 403},
		{"split by a processing instruction", `<q>1 UNI<?x?>ON SELECT password FROM users</q>`, 403},
		{"internal entity", `<?xml version="1.0"?><!DOCTYPE q [<!ENTITY x "1 UNION SELECT password FROM users">]><q>&x;</q>`, 400},
		{"external DTD", `<?xml version="1.0"?><!DOCTYPE q SYSTEM "https://attacker.example/q.dtd"><q>&x;</q>`, 400},
		{"benign", `<!DOCTYPE order><order><item id="42">lamp<!-- red --></item><qty>3</qty></order>`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "xml-" + tt.name, ctype: "application/xml", body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFScoreAtRandom: the WAF inspects what Coraza's readers do
// not give the rules (JSON literals, XML text) as added arguments, all
// named "json" or "xml". Coraza caches a rule's transformed value of an
// argument under the address of its key's bytes and its position among
// the rule's values, positions that differ from rule to rule: the
// literals took one another's cached values at random, and a UNION
// SELECT written with JSON escapes in a form-typed body (which Flask's
// get_json(force=True) reads) scored 10 to 35, so that with
// anomalyThreshold 20 about one try in ten reached the upstream. It now
// scores alike every time.
func TestAttackWAFScoreAtRandom(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block, anomalyThreshold: 20}\n",
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 10000, burst: 10000}"}})
	const body = `{"a":"lamp","b":"x","c":"y","q":"1 \u0055NION \u0053ELECT password FROM users"}`
	for range 60 {
		postBody(t, h, u, rawPost{path: "/api/items", client: "rnd", ctype: "application/x-www-form-urlencoded", body: body}, 403)
	}
}

// TestAttackWAFMultipartTypedParts: a multipart part typed JSON or XML,
// which the application decodes (Spring's @RequestPart, a Go handler
// unmarshalling a "metadata" part), was inspected as written: a UNION
// SELECT spelt with JSON escapes scored 5 (920540), the same document as
// a JSON body 20, so a threshold of 10 let it reach the upstream; spelt
// with XML character references (&#x55;NION) it scored nothing, and
// passed the default threshold. Their text is now inspected decoded.
func TestAttackWAFMultipartTypedParts(t *testing.T) {
	u := newRawUpstream(t)
	h10 := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block, anomalyThreshold: 10}\n"})
	h5 := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n"})
	const ct = "multipart/form-data; boundary=B"
	part := func(disposition, ctype, value string) string {
		return "--B\r\nContent-Disposition: form-data; " + disposition + "\r\nContent-Type: " + ctype + "\r\n\r\n" + value + "\r\n--B--\r\n"
	}
	const union = `{"q":"1 \u0055NION \u0053ELECT password FROM users"}`
	const xunion = `<a><q>1 &#x55;NION &#83;ELECT password FROM users</q></a>`
	tests := []struct {
		name  string
		h     *harness
		ctype string
		body  string
		want  int
	}{
		{"json body", h10, "application/json", union, 403},
		{"json part", h10, ct, part(`name="meta"`, "application/json", union), 403},
		{"json file part", h10, ct, part(`name="meta"; filename="meta.json"`, "application/json", union), 403},
		{"benign json part", h10, ct, part(`name="meta"`, "application/json", `{"name":"lamp"}`), 200},
		{"xml body", h5, "application/xml", xunion, 403},
		{"xml part", h5, ct, part(`name="meta"`, "application/xml", xunion), 403},
		{"xml file part", h5, ct, part(`name="meta"; filename="m.xml"`, "text/xml", xunion), 403},
		{"benign xml part", h5, ct, part(`name="meta"`, "application/xml", `<a><q>lamp &amp; shade</q></a>`), 200},
		// An upload's internal entities, which lxml expands
		// (etree.fromstring read "1 UNION SELECT ..."), scored
		// nothing: they are expanded, and such uploads not refused.
		{"xml upload, internal entity", h5, ct, part(`name="doc"; filename="a.xml"`, "application/xml",
			`<!DOCTYPE a [<!ENTITY x "&#x55;NION &#x53;ELECT">]><a>1 &x; password FROM users</a>`), 403},
		// Entities declared after the one referring to them, which
		// lxml expands where used, were left as written.
		{"xml upload, entities declared later", h5, ct, part(`name="doc"; filename="a.xml"`, "application/xml",
			`<!DOCTYPE r [<!ENTITY a "1 &b;"><!ENTITY b "UNION SE&c;"><!ENTITY c "LECT password FROM users">]><r>&a;</r>`), 403},
		{"svg upload with entities", h5, ct, part(`name="logo"; filename="logo.svg"`, "image/svg+xml",
			`<!DOCTYPE svg [<!ENTITY ns_svg "http://www.w3.org/2000/svg">]><svg xmlns="&ns_svg;"><title>Logo</title></svg>`), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, tt.h, u, rawPost{path: "/api/items", client: "jp-" + tt.name, ctype: tt.ctype, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFHiddenFieldsReplaced: the literals of a JSON document sent
// as a form (read as JSON by Flask's get_json(force=True)) are inspected
// as arguments named "json"; Coraza's urlencoded processor then set the
// body's own keys, and a string holding "&json=x" replaced them all: a
// UNION SELECT spelt with JSON escapes, or with "\n" between its words,
// scored 5 and reached the upstream under a threshold of 10. The keys
// are compared in lower case, as Coraza's collections fold it
// ("&JSON=x").
func TestAttackWAFHiddenFieldsReplaced(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block, anomalyThreshold: 10}\n"})
	const ct = "application/x-www-form-urlencoded"
	tests := []struct {
		name, body string
		want       int
	}{
		{"escaped", `{"q":"1 \u0055NION \u0053ELECT password FROM users"}`, 403},
		{"escaped, key replaced", `{"q":"1 \u0055NION \u0053ELECT password FROM users","x":"&json=x"}`, 403},
		{"newlines, key replaced", `{"q":"1 UNION\nSELECT password\nFROM users","x":"&json=x"}`, 403},
		{"benign, key replaced", `{"q":"lamp","x":"&json=x"}`, 200},
		// Coraza's argument collections fold case: keys compared as
		// written let "&JSON=x" replace the literals.
		{"upper case key", `{"q":"1 \u0055NION \u0053ELECT password FROM users","x":"&JSON=x"}`, 403},
		{"escaped upper case keys", `{"q":"1 UNION\nSELECT password\nFROM users","x":"&%4ASON=x&Json_=y"}`, 403},
		{"benign, upper case key", `{"q":"lamp","x":"&JSON=x"}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "hf-" + tt.name, ctype: ct, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFXMLTypeUnparsed: XML attribute values are inspected beside
// Coraza's reading (which gives them to no CRS rule), but only when Go's
// mime parsed the Content-Type: "application/xml x" does not parse, and
// Coraza's rule 200000 (a regular expression on the type's start) still
// reads the body as XML. The injection in an attribute went uninspected:
// only the malformed type scored (920470, 5), under a threshold of 10.
func TestAttackWAFXMLTypeUnparsed(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block, anomalyThreshold: 10}\n"})
	const attr = `<item id="1' OR '1'='1" note="1 UNION SELECT password FROM users"/>`
	tests := []struct {
		name, ctype, body string
		want              int
	}{
		{"parsed type", "application/xml", attr, 403},
		{"unparsed type", "application/xml x", attr, 403},
		{"unparsed type, benign", "application/xml x", `<item id="42"/>`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "xt-" + tt.name, ctype: tt.ctype, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFUploadFileName: CRS inspects no upload's file name but for
// quotes, ";" and "=" (920120), and Spring's getOriginalFilename,
// Werkzeug's FileStorage.filename and Servlet's getSubmittedFileName hand
// it to the application as sent, where it is stored and shown: an upload
// named "<script>alert(document.cookie)</script>.png" scored nothing at
// the default threshold and reached the upstream. File names are
// inspected as fields; file contents stay uninspected.
func TestAttackWAFUploadFileName(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n"})
	const ct = "multipart/form-data; boundary=B"
	file := func(name string) string {
		return "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"" + name + "\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--B--\r\n"
	}
	tests := []struct {
		name, body string
		want       int
	}{
		{"script in the name", file("<script>alert(document.cookie)</script>.png"), 403},
		{"union in the name", file("1 UNION SELECT password FROM users.png"), 403},
		{"benign name", file("holiday photo (2).png"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "fn-" + tt.name, ctype: ct, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFCookieLines: two Cookie lines reached the upstream as
// sent, and the WAF read each apart, where gunicorn and Werkzeug's
// server join them with "," into one HTTP_COOKIE and Werkzeug (Flask)
// and Django read a quoted value across the join: `q="1\047 OR 1=1 --`
// then `x"` is `1' OR 1=1 --,x` to them, and scored nothing, a line
// without its closing quote being read as written. The lines are joined
// with "; " (as HTTP/2's cookie fields are) before any check, and the
// upstream gets that one line.
func TestAttackWAFCookieLines(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "waf: {mode: block}\n"})
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Cookie", `q="1\047 OR 1=1 --`, "Cookie", `x"`)
	if status(resp) != 403 || len(got) != 0 {
		t.Errorf("quoted value across two Cookie lines: status %d, upstream got %q; want 403 and nothing", status(resp), got)
	}
	resp, got = sendRaw(t, h, u, "web", "GET", "/api/items", "Cookie", "a=1", "Cookie", "b=2")
	if status(resp) != 200 || len(got) != 1 {
		t.Fatalf("two benign Cookie lines: status %d, upstream got %d requests", status(resp), len(got))
	}
	if c := header(got[0], "Cookie"); len(c) != 1 || c[0] != "a=1; b=2" {
		t.Errorf("the upstream got Cookie %q, want one line \"a=1; b=2\"", c)
	}
}

// TestAttackWAFUploadFileNames: with both "filename" and "filename*"
// sent, Go's mime returns the extended one only, and only it was
// inspected, where PHP (which reads no "filename*") hands the plain one
// to the application: a plain "<script>...</script>.png" beside an
// extended "a.png" scored nothing at the default threshold and reached
// the upstream. Both are inspected.
func TestAttackWAFUploadFileNames(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n"})
	const ct = "multipart/form-data; boundary=B"
	file := func(params string) string {
		return "--B\r\nContent-Disposition: form-data; name=\"f\"; " + params + "\r\nContent-Type: image/png\r\n\r\nPNG\r\n--B--\r\n"
	}
	tests := []struct {
		name, body string
		want       int
	}{
		{"script in the plain name", file(`filename="<script>alert(document.cookie)</script>.png"; filename*=UTF-8''a.png`), 403},
		{"script in the plain name, after", file(`FILENAME*=UTF-8''a.png; filename="<script>alert(document.cookie)</script>.png"`), 403},
		{"benign names", file(`filename="a.png"; filename*=UTF-8''%C3%A4.png`), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "fns-" + tt.name, ctype: ct, body: tt.body}, tt.want)
		})
	}
}

// TestAttackWAFXMLPartUnread: an XML part's text is inspected decoded
// as far as Go's reader reads it, and what it left unread passed: an
// upload whose text joined past the budget (a comb of 50 nested
// elements around some filler, 1 KiB in all) had the rest dropped, and
// a field with a control byte Go's reader stops at had the rest unread,
// so a UNION SELECT spelt with character references after either scored
// nothing at the default threshold and reached the upstream. Both are
// refused (an upload that Go's reader stops in is not: a .docx is a zip
// typed "...openxmlformats...").
func TestAttackWAFXMLPartUnread(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: "waf: {mode: block}\n"})
	const ct = "multipart/form-data; boundary=B"
	part := func(disposition, ctype, value string) string {
		return "--B\r\nContent-Disposition: form-data; " + disposition + "\r\nContent-Type: " + ctype + "\r\n\r\n" + value + "\r\n--B--\r\n"
	}
	const union = `<text>1 &#x55;NION &#83;ELECT password FROM users</text>`
	comb := strings.Repeat("<g>", 50) + strings.Repeat("lorem ipsum ", 40) + strings.Repeat("</g>", 50)
	tests := []struct {
		name, body string
		want       int
	}{
		{"upload past the budget", part(`name="logo"; filename="logo.svg"`, "image/svg+xml", "<svg>"+comb+union+"</svg>"), 400},
		{"field with a control byte", part(`name="meta"`, "application/xml", "<a>\x01</a>"+union), 400},
		{"benign upload", part(`name="logo"; filename="logo.svg"`, "image/svg+xml", "<svg><g><g><text>Logo</text></g></g></svg>"), 200},
		{"zip upload typed xml", part(`name="doc"; filename="a.docx"`, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "PK\x03\x04\x14\x00\x06\x00<w:document>"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/api/items", client: "xu-" + tt.name, ctype: ct, body: tt.body}, tt.want)
		})
	}
}
