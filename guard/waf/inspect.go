package waf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3/types"

	"github.com/wardsec/ward/guard/clientip"
	"github.com/wardsec/ward/internal/auditctx"
	"github.com/wardsec/ward/internal/hexdigit"
)

// maxMatchData is the most bytes of Match.Data kept from a rule's log
// data.
const maxMatchData = 100

// Match is one rule that matched a request.
type Match struct {
	RuleID int // CRS rule id, such as 942100 (SQL injection via libinjection)
	// Message is the rule's message, such as "SQL Injection Attack
	// Detected via libinjection". It never holds request data: a
	// message written with a macro is given as written
	// ("HTTP Parameter Pollution (%{MATCHED_VAR_NAME})"), since the
	// expanded one held what the macro named (921180's, a parameter
	// name, at any length); what matched is in Data.
	Message string
	// Data is the rule's log data: what matched and where, such as
	// "Matched Data: s&sos found within ARGS:id: 1' OR '1'='1". It is cut
	// to at most 100 bytes (on a UTF-8 boundary), so it never holds a whole
	// body, but it may hold part of a parameter value.
	Data string
	// Severity is "critical", "error", "warning", "notice" (the CRS
	// levels) or "" for a rule without one.
	Severity string
}

// Decision is the outcome of inspecting one request.
type Decision struct {
	// Blocked means the request must not reach the upstream. It is only
	// ever true in Block mode.
	Blocked bool
	// Status is the status a blocked request is answered with: 403 when
	// the anomaly score reached the threshold, 400 for a body CRS cannot
	// parse (such as malformed JSON sent as application/json) and for a
	// request target with a raw "#", 413 for a body longer than
	// MaxBodyBytes, 415 for a body with a Content-Encoding (gzip, ...) or
	// in a charset that is not ASCII-compatible (ReadableCharsets, or a
	// _charset_ form field or query parameter naming one).
	// It is 0 when Blocked is false.
	Status int
	// Score is the inbound anomaly score at the configured paranoia level;
	// the request is blocked (or in Detect mode would be) when it reaches
	// the threshold. It is 0 when the request was refused before the rules
	// ran (an oversized body, a raw "#" in the target).
	Score int
	// Matches are the rules that matched, in evaluation order; in Block
	// mode the last one is the rule that blocked (949110 for the anomaly
	// score).
	Matches []Match
	// Truncated means the body was longer than MaxBodyBytes and only its
	// first MaxBodyBytes were inspected (Detect mode; Block mode refuses
	// such a body).
	Truncated bool
}

// Check inspects r and returns the decision. It reads r.Body, up to
// MaxBodyBytes and one byte more, so the body cannot be read again from
// r: to serve the request after checking it, use Inspect or Handler. An
// error means r could not be inspected (its body could not be read) and
// should be refused.
func (w *WAF) Check(r *http.Request) (Decision, error) {
	_, d, err := w.Inspect(r)
	return d, err
}

// Inspect inspects r as Check does and also returns the request to serve:
// r itself when r has no body, and otherwise a shallow copy of r whose
// Body yields exactly the bytes r.Body held (the inspected part from
// memory, then in Detect mode whatever lay beyond MaxBodyBytes, streamed
// from r.Body). r itself is not modified, but its body is consumed. When
// the request is blocked or an error is returned, do not serve it.
//
// Inspect runs the request phases only: connection, URI, headers and
// body. Responses are not inspected.
func (w *WAF) Inspect(r *http.Request) (*http.Request, Decision, error) {
	tx := w.waf.NewTransaction()
	defer func() { _ = tx.Close() }() // releases Coraza's body buffer; in memory only, it cannot fail
	out, d, err := w.process(tx, r)
	if err != nil {
		return out, d, err
	}
	if d.Status == http.StatusRequestEntityTooLarge {
		// Refused by process before the rules saw the body (no rule of
		// this configuration answers 413): nothing to report. A 415
		// comes after the header rules, which are reported.
		return out, d, nil
	}
	tx.ProcessLogging()
	w.collect(tx, r, &d)
	return out, d, nil
}

// process feeds r to tx and returns the request to serve and the decision
// without matches.
func (w *WAF) process(tx types.Transaction, r *http.Request) (*http.Request, Decision, error) {
	client, port := clientAddr(r)
	tx.ProcessConnection(client, port, "", 0)
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	if strings.IndexByte(uri, '#') >= 0 {
		// net/http keeps a raw "#" in the path and parses the query
		// after it ("/#?q=x" has the query q=x), Coraza cuts the target
		// at "#" as a fragment and never sees the query: hand it the
		// target as net/http reads it, and refuse it when blocking (no
		// client sends a fragment; servers disagree on what it is).
		if w.block {
			return r, Decision{Blocked: true, Status: http.StatusBadRequest}, nil
		}
		uri = strings.ReplaceAll(uri, "#", "%23")
	}
	tx.ProcessURI(uri, r.Method, r.Proto)
	// Quoted cookie values as Python applications read them (unquoted),
	// beside Coraza's reading (as written).
	for _, v := range r.Header["Cookie"] {
		for _, f := range quotedCookies(v) {
			tx.AddGetRequestArgument(argKey(f.name), f.value)
		}
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			tx.AddRequestHeader(k, v)
		}
	}
	// net/http moves Host and Transfer-Encoding out of the header map;
	// rules look at both (920280 missing Host, 920171 smuggling).
	if r.Host != "" {
		tx.AddRequestHeader("Host", r.Host)
		tx.SetServerName(r.Host)
	}
	for _, te := range r.TransferEncoding {
		tx.AddRequestHeader("Transfer-Encoding", te)
	}
	// A server request keeps Content-Length in its header map; a request
	// built in code has only the field, which its client would send.
	if r.ContentLength > 0 && r.Header.Get("Content-Length") == "" {
		tx.AddRequestHeader("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	if it := tx.ProcessRequestHeaders(); it != nil {
		return r, interrupted(it), nil
	}
	if w.block && r.URL != nil && !readableCharsetFields(queryCharsetFields(r.URL.RawQuery)) {
		// A _charset_ parameter names the charset of the others to
		// Sling (AEM), as the Content-Type's charset does elsewhere.
		return r, Decision{Blocked: true, Status: http.StatusUnsupportedMediaType}, nil
	}

	out := r
	var d Decision
	if r.Body != nil && r.Body != http.NoBody && tx.IsRequestBodyAccessible() {
		if w.block && r.ContentLength > w.maxBody {
			// Refuse without reading what would not be inspected.
			return r, Decision{Blocked: true, Status: http.StatusRequestEntityTooLarge}, nil
		}
		if w.block && encoded(r.Header) {
			// Rules would see compressed bytes, the application (with
			// a decompressing middleware) the payload: only protocol
			// rules score it (920450, 920270), which a raised threshold
			// lets pass.
			return r, Decision{Blocked: true, Status: http.StatusUnsupportedMediaType}, nil
		}
		if w.block && !ReadableCharsets(r.Header.Values("Content-Type")) {
			// Rules read the body's bytes as UTF-8 or Latin text; in
			// UTF-7, UTF-16 or EBCDIC the payload is no bytes they
			// match, and body-parser (express.json()) decodes UTF-7
			// and UTF-16 JSON, Tomcat EBCDIC forms. CRS's own check
			// (920480) reads the first parameter spelled "charset" in
			// lower case only, and scores 5, under a raised threshold.
			return r, Decision{Blocked: true, Status: http.StatusUnsupportedMediaType}, nil
		}
		body, err := readBody(r.Body, w.maxBody, r.ContentLength)
		if err != nil {
			return r, Decision{}, fmt.Errorf("waf: reading the request body: %w", err)
		}
		inspected := body
		if int64(len(body)) > w.maxBody {
			if w.block {
				return r, Decision{Blocked: true, Status: http.StatusRequestEntityTooLarge}, nil
			}
			d.Truncated = true
			inspected = body[:w.maxBody]
		}
		out = withBody(r, body, d.Truncated)
		if w.block && !readableCharsetFields(bodyCharsetFields(r.Header.Get("Content-Type"), inspected)) {
			// A form's _charset_ field (RFC 7578 4.6, HTML's hidden
			// input) names the charset of its other fields to Jetty 12
			// (MultiPartFormData's default charset), Sling and
			// mu-server: the EBCDIC or UTF-16 that the Content-Type
			// may not name, carried in the body.
			return out, Decision{Blocked: true, Status: http.StatusUnsupportedMediaType}, nil
		}
		// Fields that a server behind the WAF reads, and Coraza's
		// body processors do not give the rules.
		ct := r.Header.Get("Content-Type")
		hidden, ok := hiddenFields(ct, inspected)
		if !ok && w.block {
			return out, Decision{Blocked: true, Status: http.StatusBadRequest}, nil
		}
		hidden = append(hidden, jsonFields(ct, inspected)...)
		xf, ok := xmlFields(ct, inspected)
		if !ok && w.block {
			return out, Decision{Blocked: true, Status: http.StatusBadRequest}, nil
		}
		hidden = append(hidden, xf...)
		// Coraza's urlencoded body processor (also the one CRS forces
		// on a body of no or another type) sets each key it parses,
		// replacing what was added under it: a form-typed JSON document
		// holding "&json=x" in a string dropped every literal added
		// under "json", and its escaped UNION SELECT scored 5 instead
		// of 25. A hidden field takes a name the body has no key of.
		var taken map[string]bool
		if len(hidden) > 0 && urlencodedProcessor(ct) {
			taken = urlencodedKeys(inspected)
		}
		free := freeNames{taken: taken}
		for _, f := range hidden {
			tx.AddPostRequestArgument(argKey(free.name(f.name)), f.value)
		}
		if it, _, err := tx.WriteRequestBody(inspected); err != nil {
			return out, Decision{}, fmt.Errorf("waf: buffering the request body: %w", err)
		} else if it != nil {
			d2 := interrupted(it)
			d2.Truncated = d.Truncated
			return out, d2, nil
		}
	}
	it, err := tx.ProcessRequestBody()
	if err != nil {
		return out, Decision{}, fmt.Errorf("waf: processing the request body: %w", err)
	}
	if it != nil {
		d2 := interrupted(it)
		d2.Truncated = d.Truncated
		return out, d2, nil
	}
	return out, d, nil
}

// argKey returns name in memory of its own, for an argument added to a
// transaction. Coraza caches a rule's transformed value of an argument
// under the address of its key's bytes and its position among the values
// the rule reads, and positions differ from rule to rule (collections
// are maps, read in random order, and rules read different ones): the
// fields added under one string (every "json" literal, every "xml"
// text) took one another's cached values, so that a rule inspected a
// benign literal in place of the injection, at random (a UNION SELECT
// scored 10 to 35 from one request to the next). An empty name, whose
// address is no one's own, is given as "-".
func argKey(name string) string {
	if name == "" {
		name = "-"
	}
	return strings.Clone(name)
}

// freeNames gives hidden fields names the body has no key of.
type freeNames struct {
	taken map[string]bool   // the body's keys, in lower case
	free  map[string]string // a field's name to the one it takes
	steps int               // names tried, for tests
}

// name returns name, or name followed by as few "_" as make it a key
// not taken. Coraza's argument collections fold case (strings.ToLower):
// "&JSON=x" replaced the literals added under "json". Each name is
// worked out once: walked again for every field, a body of keys
// "json", "json_", ..., and 43,000 JSON literals took 12.7 million
// steps (seconds of CPU per request) at the default body limit.
func (f *freeNames) name(name string) string {
	if len(f.taken) == 0 {
		return name
	}
	if n, ok := f.free[name]; ok {
		return n
	}
	lower := []byte(strings.ToLower(name))
	k := 0
	for f.taken[string(lower)] {
		lower = append(lower, '_')
		k++
		f.steps++
	}
	n := name
	if k > 0 {
		n = name + strings.Repeat("_", k)
	}
	if f.free == nil {
		f.free = make(map[string]string)
	}
	f.free[name] = n
	return n
}

// argumentLimit is Coraza's default SecArgumentsLimit: its urlencoded
// body processor parses at most this many pairs.
const argumentLimit = 1000

// urlencodedProcessor reports whether Coraza reads a body of type ct
// with its urlencoded processor (CRS forces it on a body no other
// processor reads), which sets the keys it parses; the multipart, JSON
// and XML ones add theirs.
func urlencodedProcessor(ct string) bool {
	lct := strings.ToLower(ct)
	return !strings.HasPrefix(strings.TrimSpace(lct), "multipart/form-data") &&
		!corazaJSON.MatchString(lct) && !corazaXML.MatchString(lct)
}

// urlencodedKeys returns the keys Coraza's urlencoded body processor
// reads from body: pairs split at "&", the key up to the first "=",
// unescaped leniently ("+" is a space, an escape that is not two hex
// digits stays as written), in the first argumentLimit pairs; in lower
// case, as Coraza's argument collections (built without the
// coraza.rule.case_sensitive_args_keys tag) compare them.
func urlencodedKeys(body []byte) map[string]bool {
	keys := make(map[string]bool)
	for q, n := body, 0; len(q) > 0 && n < argumentLimit; {
		kv := q
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			q = nil
		}
		if len(kv) == 0 {
			continue
		}
		n++
		if i := bytes.IndexByte(kv, '='); i >= 0 {
			kv = kv[:i]
		}
		keys[strings.ToLower(lenientUnescape(kv))] = true
	}
	return keys
}

// lenientUnescape decodes a form key as Coraza does (its url package's
// queryUnescape).
func lenientUnescape(b []byte) string {
	var s strings.Builder
	s.Grow(len(b))
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '+':
			s.WriteByte(' ')
		case c == '%' && i+2 < len(b) && hexdigit.Is(b[i+1]) && hexdigit.Is(b[i+2]):
			s.WriteByte(hexdigit.Value(b[i+1])<<4 | hexdigit.Value(b[i+2]))
			i += 2
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}

// encoded reports whether h gives the body a content coding other than
// identity.
func encoded(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return true
			}
		}
	}
	return false
}

// asciiCharset matches the charsets in which ASCII text is its ASCII
// bytes and every other character is bytes over 0x7F: UTF-8, ASCII, the
// ISO 8859 and Windows code pages (CRS's
// allowed_request_content_type_charset is a subset). The rules see a
// payload in them as it is.
var asciiCharset = regexp.MustCompile(`\A(utf-?8|us-ascii|ascii|iso[-_]?8859-\d{1,2}|latin-?1|(windows|cp)-?125\d)\z`)

// ReadableCharsets reports whether every charset parameter of the
// Content-Type values cts names an ASCII-compatible charset (UTF-8,
// ASCII, ISO 8859, Windows 125x), in which the rules see an attack as
// the application does. "charset" is looked for anywhere in a value and
// in any case, as servers read it (Tomcat finds "charset=" anywhere;
// Node's content-type package lower-cases parameter names and keeps the
// last of them), quoted or not; an RFC 2231 "charset*" (which Go's
// mime.ParseMediaType decodes) is refused, as is a value with an escape.
// The name may be quoted ("charset"=, which Werkzeug 2 unquotes in a
// multipart part's header) and followed by any white space Python's
// strip and \s skip (Django's parse_header_parameters strips the name of
// a request's Content-Type, decoded as Latin-1, so "charset\xa0=" is its
// charset): see skipSpace.
// A value without a charset parameter is readable.
func ReadableCharsets(cts []string) bool {
	for _, ct := range cts {
		rest := strings.ToLower(ct)
		for {
			i := strings.Index(rest, "charset")
			if i < 0 {
				break
			}
			rest = skipSpace(rest[i+len("charset"):], true)
			if strings.HasPrefix(rest, "*") {
				return false
			}
			if !strings.HasPrefix(rest, "=") {
				continue
			}
			v := skipSpace(rest[1:], false)
			if v != "" && (v[0] == '"' || v[0] == '\'') {
				v = v[1:]
			}
			if j := strings.IndexAny(v, ";,\"' \t"); j >= 0 {
				v = v[:j]
			}
			if v != "" && !asciiCharset.MatchString(v) {
				return false
			}
		}
	}
	return true
}

// charsetField is the name of the form field that gives the charset of
// a form's other fields (RFC 7578 4.6; HTML fills a hidden input so
// named with the form's charset).
const charsetField = "_charset_"

// readableCharsetFields reports whether every _charset_ value names an
// ASCII-compatible charset (or is empty, naming none).
func readableCharsetFields(vs []string) bool {
	for _, v := range vs {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" && !asciiCharset.MatchString(v) {
			return false
		}
	}
	return true
}

// queryCharsetFields returns the values of the _charset_ parameters of a
// raw query, its name in any case, split at '&' and ';'; a value that
// does not decode is returned as written (and names no charset the
// check knows).
func queryCharsetFields(q string) []string {
	var vs []string
	for q != "" {
		var kv string
		if i := strings.IndexAny(q, "&;"); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, ""
		}
		k, v, _ := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if !strings.EqualFold(strings.TrimSpace(k), charsetField) {
			continue
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		vs = append(vs, v)
	}
	return vs
}

// bodyCharsetFields returns the values of the _charset_ fields of a form
// body: every field of an urlencoded one (or one without a type, which
// Rack reads as a form) so named, or every multipart part so named (its
// whole content).
func bodyCharsetFields(contentType string, body []byte) []string {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil && contentType != "" {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch {
	case mt == "" || mt == "application/x-www-form-urlencoded":
		return queryCharsetFields(string(body))
	case !strings.HasPrefix(mt, "multipart/"):
		return nil
	}
	var vs []string
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			return vs // Coraza refuses a body it cannot read itself
		}
		if strings.EqualFold(strings.TrimSpace(p.FormName()), charsetField) {
			v, _ := io.ReadAll(p)
			vs = append(vs, string(v))
		}
	}
}

// skipSpace returns s after its leading bytes that some reader of a
// Content-Type takes for white space around a parameter's "=": ASCII
// white space and the separators Python's str.strip drops (\x1c-\x1f),
// and every byte over 0x7F (U+00A0 and U+0085 decoded as Latin-1, or any
// Unicode space in UTF-8, which Python's strip and \s also drop). With
// quote, a quote ends a quoted parameter name first.
func skipSpace(s string, quote bool) string {
	if quote && s != "" && (s[0] == '"' || s[0] == '\'') {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ', c >= '\t' && c <= '\r', c >= 0x1c && c <= 0x1f, c >= 0x80:
		default:
			return s[i:]
		}
	}
	return ""
}

// interrupted is the decision for a Coraza interruption, which only
// happens in Block mode.
func interrupted(it *types.Interruption) Decision {
	status := it.Status
	if status < 400 || status > 499 {
		// deny without a status, drop, redirect: a plain refusal.
		status = http.StatusForbidden
	}
	return Decision{Blocked: true, Status: status}
}

// collect adds the matched rules and the score of tx to d, and reports
// each match to OnMatch.
func (w *WAF) collect(tx types.Transaction, r *http.Request, d *Decision) {
	for _, mr := range tx.MatchedRules() {
		id := mr.Rule().ID()
		if id == scoreRuleID {
			d.Score, _ = strconv.Atoi(mr.Data()) // "" (no score variable) is 0
			continue
		}
		if l, ok := mr.(interface{ Log() bool }); (ok && !l.Log()) || mr.Message() == "" {
			continue // bookkeeping rules: CRS setup, nolog flow control
		}
		d.Matches = append(d.Matches, Match{
			RuleID:   id,
			Message:  w.message(mr),
			Data:     truncate(mr.Data(), maxMatchData),
			Severity: severity(mr.Rule().Severity()),
		})
	}
	if w.onMatch != nil {
		for _, m := range d.Matches {
			w.onMatch(r, m)
		}
	}
}

// message returns mr's rule message without request data: a message
// whose msg macros (%{...}) expanded to anything but numbers (the
// anomaly score of 949110) is given as written, since the expansion may
// be a parameter or header name the client chose, at any length (CRS
// 921180 expands MATCHED_VAR_NAME, "TX:paramcounter_ARGS_NAMES:<name>");
// one whose template cannot be read from the rule's text is cut to
// maxMatchData bytes.
func (w *WAF) message(mr types.MatchedRule) string {
	m := mr.Message()
	raw := mr.Rule().Raw()
	if !strings.Contains(raw, "%{") {
		return m // no macro anywhere in the rule
	}
	id := mr.Rule().ID()
	var tmpl string
	if v, ok := w.messages.Load(id); ok {
		tmpl = v.(string)
	} else {
		t, ok := msgTemplate(raw)
		if !ok {
			return truncate(m, maxMatchData)
		}
		tmpl = t
		w.messages.Store(id, tmpl)
	}
	if numbersOnly(tmpl, m) {
		return m
	}
	return tmpl
}

// numbersOnly reports whether m is the message template tmpl with each
// of its macros (%{...}) expanded to at most 20 decimal digits.
func numbersOnly(tmpl, m string) bool {
	for tmpl != "" {
		if strings.HasPrefix(tmpl, "%{") {
			end := strings.IndexByte(tmpl, '}')
			if end < 0 {
				return false
			}
			tmpl = tmpl[end+1:]
			n := 0
			for n < len(m) && n < 20 && '0' <= m[n] && m[n] <= '9' {
				n++
			}
			m = m[n:]
			continue
		}
		if m == "" || m[0] != tmpl[0] {
			return false
		}
		tmpl, m = tmpl[1:], m[1:]
	}
	return m == ""
}

// msgTemplate returns the value of the first msg action in raw, a rule's
// text (msg:'...', quotes escaped with a backslash), as written.
func msgTemplate(raw string) (string, bool) {
	_, rest, ok := strings.Cut(raw, "msg:'")
	if !ok {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '\\' && i+1 < len(rest) && rest[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\'':
			return b.String(), true
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// severity names a CRS severity, "" when unset.
func severity(s types.RuleSeverity) string {
	if s < types.RuleSeverityEmergency || s > types.RuleSeverityDebug {
		return ""
	}
	return s.String()
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// clientAddr is the client address and port given to Coraza (REMOTE_ADDR,
// REMOTE_PORT): the address clientip.Resolver.Handler resolved when it
// ran, else the peer's. The port is the peer's, and 0 for a resolved
// address, whose port is unknown.
func clientAddr(r *http.Request) (string, int) {
	if a, ok := clientip.FromContext(r.Context()); ok {
		if !a.IsValid() {
			return "", 0
		}
		return a.String(), 0
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		if a := clientip.PeerAddr(r); a.IsValid() {
			return a.String(), 0
		}
		return "", 0
	}
	return ap.Addr().Unmap().WithZone("").String(), int(ap.Port())
}

// readBody reads at most limit+1 bytes of body, in one allocation when the
// length is known.
func readBody(body io.Reader, limit, contentLength int64) ([]byte, error) {
	var buf bytes.Buffer
	if contentLength > 0 && contentLength <= limit {
		buf.Grow(int(contentLength) + bytes.MinRead) // #nosec G115 -- contentLength <= limit <= 1 GiB
	}
	_, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	return buf.Bytes(), err
}

// replayBody is the body of the request Inspect returns.
type replayBody struct {
	io.Reader
	orig io.Closer
}

func (b *replayBody) Close() error { return b.orig.Close() }

// withBody returns a shallow copy of r whose body is read, followed, when
// rest is true, by what remains of r.Body.
func withBody(r *http.Request, read []byte, rest bool) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	if rest {
		r2.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(read), r.Body), orig: r.Body}
		r2.GetBody = nil
		return r2
	}
	r2.Body = &replayBody{Reader: bytes.NewReader(read), orig: r.Body}
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(read)), nil }
	return r2
}

// Handler returns middleware that inspects each request and, in Block
// mode, answers a blocked one with its Decision.Status (403, 400, 413 or
// 415) and a fixed body naming only the status: no rule, message or score
// reaches the client. A request whose body cannot be read gets 400 (413
// when an http.MaxBytesReader cut it off). Other requests go to next,
// with their body intact. In Detect mode only unreadable bodies are
// refused.
func (w *WAF) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		out, d, err := w.Inspect(r)
		switch {
		case err != nil:
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			auditctx.Deny(r.Context(), "waf", "request body unreadable")
			refuse(rw, status)
		case d.Blocked:
			if rec := auditctx.From(r.Context()); rec != nil { // the reason is formatted only for a recorder
				rec.Record("deny", "waf", fmt.Sprintf("WAF blocked the request with %d (anomaly score %d)", d.Status, d.Score), false)
			}
			refuse(rw, d.Status)
		default:
			next.ServeHTTP(rw, out)
		}
	})
}

// refuse writes a refusal that tells nothing but its status.
func refuse(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status)+"\n")
}
