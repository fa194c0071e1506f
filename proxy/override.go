package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/wardsec/ward/guard/waf"
	"github.com/wardsec/ward/internal/hexdigit"
)

// Method overrides in form bodies.
//
// Rails (Rack::MethodOverride, on by default), Laravel and Symfony run a
// POST as the method its form field "_method" names: a policy that denies
// DELETE sees a POST, the upstream deletes. The proxy strips the override
// headers and refuses the query parameter (methodOverrideQuery); for
// bodies, it reads each form body the upstream receives as it forwards it
// (overrideScanner) and cuts the request off at the first field that a
// framework would read as "_method", before the field's value has left
// the proxy: the upstream never holds a complete request carrying it, so
// it cannot act on it, and the client gets 400.
//
// Which bodies are form bodies is decided as Rack decides it, widened
// where other readers are wider (formBody): application/x-www-form-urlencoded,
// multipart/* with its boundary, and a body without Content-Type (Rack
// parses a POST without one as a form). Other types (JSON, XML, text)
// are forwarded unread; see docs/proxy.md.
//
// Bearer tokens in form bodies.
//
// RFC 6750 2.2 lets a client send its token as a form body parameter
// access_token, and Spring Security (allowFormEncodedBodyParameter),
// Rack's OAuth2 middlewares, Doorkeeper and others read it there: the
// proxy would verify the Authorization header's token (or none) while the
// upstream acts on the identity of the body's. With jwt set, the scanner
// also refuses, the same way, a form field that tokenKey accepts
// (errTokenBody), under every spelling the override names are looked for
// in (escaped, PHP's mangling, brackets, multipart's looser readers).
//
// This is written here rather than with mime/multipart and net/url's
// parsers, which read a whole body (or part) before answering: the check
// has to decide on the bytes in the order they are forwarded, in bounded
// memory, without holding back a body the upstream may be streaming.

// errMethodOverrideBody is the error the upstream's transport gets from a
// form body with a method override field; the ErrorHandler answers it
// with 400.
var errMethodOverrideBody = errors.New("method override field (_method) in form body")

// errTokenBody is the error for a form body with a bearer token field
// (access_token) on a route with jwt; the ErrorHandler answers it with
// 400.
var errTokenBody = errors.New("bearer token field (access_token) in form body: only the Authorization header is verified")

// errFormBodyUnreadable is the error for a form body the check cannot
// follow: a multipart part's header block over maxPartHeader bytes, or
// not ended by CRLF CRLF (Rack reads on to the first "\r\n\r\n" as
// headers, Go and PHP stop at an empty line ended by a bare LF).
var errFormBodyUnreadable = errors.New("multipart part header unreadable")

// errFormType is the error for a Content-Type whose body readers could
// disagree on: repeated, or multipart without one boundary.
var errFormType = errors.New("ambiguous Content-Type")

// maxPartHeader bounds the header block of one multipart part.
const maxPartHeader = 16 << 10

// maxPartHeaderLine bounds one line of it: PHP reads a line longer than
// its 5 KiB buffer in pieces, each a header of its own
// ("name=\"_method" ending a piece is a name PHP reads, Go does not).
const maxPartHeaderLine = 4 << 10

// overrideKey reports whether a form field or query parameter name,
// decoded, is one a framework reads as the method: "_method" in any case,
// with '.' for '_' (PHP reads ' ' and '.' in a name as '_'), after
// leading spaces (PHP drops them) and leading brackets (Rack 2's
// normalize_params matches \A[\[\]]*([^\[\]]+)\]*: "[_method]" is
// "_method"), up to a NUL (where PHP's C strings end) or a bracket (an
// array suffix, "_method[]", which Rack and Symfony ignore today; refused
// all the same); "[method", which PHP reads as "_method", too.
func overrideKey(k string) bool {
	if i := strings.IndexByte(k, 0); i >= 0 {
		k = k[:i]
	}
	k = strings.TrimLeft(k, " ")
	name := strings.TrimLeft(k, "[]")
	lead := k[:len(k)-len(name)]
	if i := strings.IndexAny(name, "[]"); i >= 0 {
		name = name[:i]
	}
	return methodName(name) || lead == "[" && methodName("["+name)
}

// methodName reports whether k is "_method" in any case, with '.' or '['
// for '_'.
func methodName(k string) bool {
	if len(k) != len("_method") {
		return false
	}
	switch k[0] {
	case '_', '.', '[':
		return strings.EqualFold(k[1:], "method")
	}
	return false
}

// fieldName is a form field name the scanner refuses: is accepts it
// (decoded), hint is the word whose mention in a Content-Disposition no
// parser reads makes it suspect, err is the scanner's error for it.
type fieldName struct {
	is   func(string) bool
	hint string
	err  error
}

var (
	methodField = fieldName{overrideKey, "method", errMethodOverrideBody}
	tokenField  = fieldName{tokenKey, "token", errTokenBody}
)

// formKind is how a request body is read for method overrides.
type formKind int

const (
	notForm formKind = iota
	urlencodedForm
	multipartForm
	jsonForm
)

// formBody returns how r's body is read for method overrides, and the
// multipart boundary. A Content-Type the check cannot read the same way
// as every upstream (repeated, or multipart without one boundary) is an
// error: the request is refused.
func formBody(h http.Header) (formKind, string, error) {
	cts := h["Content-Type"]
	switch len(cts) {
	case 0:
		return urlencodedForm, "", nil // Rack reads a POST without Content-Type as a form
	case 1:
	default:
		return notForm, "", fmt.Errorf("%w: repeated", errFormType)
	}
	// The media type as PHP takes it: up to the first ';', ',' or
	// space, in lower case; or Rack's (below) where only Rack's is a
	// form type.
	mt := strings.TrimSpace(cts[0])
	if i := strings.IndexAny(mt, ";, "); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.ToLower(mt)
	// Rack's is the type up to ';' or ',' with white space around it
	// trimmed (split(/\s*[;,]\s*/)), tabs included: it reads
	// "application/x-www-form-urlencoded\t; charset=utf-8" as a form,
	// where PHP, which cuts at a space only, reads no form at all. The
	// body is read as the form one of them parses.
	rackMT, _, _ := strings.Cut(cts[0], ";")
	rackMT, _, _ = strings.Cut(rackMT, ",")
	rackMT = strings.ToLower(strings.Trim(rackMT, " \t\r\n\f\v"))
	if !isFormType(mt) && isFormType(rackMT) {
		mt = rackMT
	}
	lct := strings.ToLower(cts[0])
	isJSON := strings.Contains(lct, "/json") || strings.Contains(lct, "+json") // Laravel's isJson: anywhere in the value
	if ce := h.Values("Content-Encoding"); len(ce) > 0 && (mt == "" || mt == "application/x-www-form-urlencoded" || strings.HasPrefix(mt, "multipart/") || isJSON) &&
		!(len(ce) == 1 && strings.EqualFold(strings.TrimSpace(ce[0]), "identity")) {
		// A server may decode the body before the framework reads it
		// (Apache's SetInputFilter DEFLATE, a decompressing
		// middleware): the bytes read here are not the form's or the
		// JSON document's.
		return notForm, "", fmt.Errorf("%w: form or JSON body with Content-Encoding", errFormType)
	}
	if (mt == "" || mt == "application/x-www-form-urlencoded" || strings.HasPrefix(mt, "multipart/")) &&
		(strings.Contains(cts[0], "/json") || strings.Contains(cts[0], "+json")) {
		// Laravel reads the body as JSON when the type mentions
		// "/json" or "+json" anywhere (Request::isJson), and looks
		// for "_method" there.
		return notForm, "", fmt.Errorf("%w: form type naming JSON", errFormType)
	}
	if (mt == "" || isFormType(mt)) && !waf.ReadableCharsets(cts[:1]) {
		// Tomcat (so Spring's access_token and _method) decodes form
		// field names and values in the charset the type names
		// (waf.ReadableCharsets: ASCII-compatible ones pass):
		// "access_token" in UTF-16 or EBCDIC bytes is no name the
		// scanner knows.
		return notForm, "", fmt.Errorf("%w: form charset not ASCII-compatible", errFormType)
	}
	switch {
	case mt == "" || mt == "application/x-www-form-urlencoded":
		return urlencodedForm, "", nil
	case strings.HasPrefix(mt, "multipart/"):
		_, params, err := mime.ParseMediaType(cts[0])
		b := params["boundary"]
		if err != nil || b == "" {
			return notForm, "", fmt.Errorf("%w: multipart without a readable boundary", errFormType)
		}
		if rack, ok := rackBoundary(cts[0]); !ok || rack != b {
			// Rack parses a multipart body whose boundary it cannot
			// find as urlencoded.
			return notForm, "", fmt.Errorf("%w: multipart boundary read apart", errFormType)
		}
		if php, ok := phpBoundary(cts[0]); ok && php != b {
			return notForm, "", fmt.Errorf("%w: multipart boundary read apart", errFormType)
		}
		return multipartForm, b, nil
	case isJSON:
		return jsonForm, "", nil
	}
	return notForm, "", nil
}

// isFormType reports whether a media type (lower case, without
// parameters) is one frameworks parse a form from.
func isFormType(mt string) bool {
	return mt == "application/x-www-form-urlencoded" || strings.HasPrefix(mt, "multipart/")
}

// rackMultipart is Rack's Rack::Multipart::MULTIPART, which finds the
// boundary Rack reads (the last "boundary=" in the type, greedy .*).
var rackMultipart = regexp.MustCompile(`(?i)\Amultipart/.*boundary="?([^";,]+)"?`)

// rackBoundary returns the boundary Rack reads in a Content-Type.
func rackBoundary(ct string) (string, bool) {
	m := rackMultipart.FindStringSubmatch(ct)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// phpBoundary returns the boundary PHP reads in a Content-Type
// (main/rfc1867.c): after the first "boundary" (matched in case, else in
// any case) and the next '=', up to the closing '"' of a quoted one, else
// to ',' or ';'.
func phpBoundary(ct string) (string, bool) {
	i := strings.Index(ct, "boundary")
	if i < 0 {
		i = strings.Index(strings.ToLower(ct), "boundary")
	}
	if i < 0 {
		return "", false
	}
	_, b, ok := strings.Cut(ct[i:], "=")
	if !ok {
		return "", false
	}
	if rest, quoted := strings.CutPrefix(b, `"`); quoted {
		b, _, ok = strings.Cut(rest, `"`)
		return b, ok
	}
	if j := strings.IndexAny(b, ",;"); j >= 0 {
		b = b[:j]
	}
	return b, true
}

// hasBody reports whether r has a body to forward (ReverseProxy sends
// none when ContentLength is 0).
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// failedBody is a body the upstream must not get: reading it fails.
type failedBody struct {
	io.ReadCloser
	err error
}

func (b failedBody) Read([]byte) (int, error) { return 0, b.err }

// overrideScanner passes a form body through, reading each field name as
// it goes by, and fails with errMethodOverrideBody (or
// errFormBodyUnreadable) at the first field that overrideKey accepts, or
// with errTokenBody at the first that tokenKey accepts when tokens is
// set, without returning the bytes of the read it found it in. The
// field's value follows its name, so it never leaves the proxy.
type overrideScanner struct {
	io.ReadCloser
	kind   formKind
	err    error
	tokens bool // refuse access_token fields too (forms, not JSON)
	maxKey int  // the longest name refused, after leading spaces and brackets

	// urlencoded: the name being read, decoded.
	inValue bool   // after '=', until the next separator
	key     []byte // decoded, at most maxKey bytes after leading spaces and brackets
	rest    bool   // the bytes of the name still to come do not matter
	long    bool   // the name is longer than any name refused
	pct     int    // bytes of a %XX escape seen (0: none)
	hex     byte
	lead    int // the leading brackets of the name: 0 none, 1 "[", 2 others

	// multipart
	delim    []byte // "--" + boundary
	lineHead []byte // the start of the current line, up to len(delim) bytes
	atStart  bool   // at the start of a line
	inHeader bool   // in a part's header block
	header   []byte // the header block so far
	hline    int    // the length of its last line so far
	core     []byte // a data line's last len(delim) bytes up to its last non-space byte
	gap      []byte // the spaces after them, up to len(delim) bytes
	seen     bool   // a delimiter has opened a part: the preamble is over
	pre      []byte // in the preamble, a line's last len(delim)-1 bytes

	js jsonState
}

// newOverrideScanner returns a scanner of body, a form body of kind
// (with its multipart boundary); tokens: refuse access_token fields too.
func newOverrideScanner(body io.ReadCloser, kind formKind, boundary string, tokens bool) *overrideScanner {
	s := &overrideScanner{ReadCloser: body, kind: kind, atStart: true, tokens: tokens, maxKey: len("_method")}
	if tokens {
		s.maxKey = len("access_token")
	}
	if kind == multipartForm {
		s.delim = []byte("--" + boundary)
	}
	return s
}

func (s *overrideScanner) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.ReadCloser.Read(p)
	if n > 0 {
		switch s.kind {
		case multipartForm:
			s.multipart(p[:n])
		case jsonForm:
			s.json(p[:n])
		default:
			s.urlencoded(p[:n])
		}
	}
	if err == io.EOF && s.err == nil {
		// The field being read ends with the body.
		if s.kind == urlencodedForm {
			s.endKey()
		} else if s.inHeader {
			s.partHeader()
		}
	}
	if s.err != nil {
		return 0, s.err
	}
	return n, err
}

// urlencoded reads b as the next bytes of an urlencoded body: names up to
// '=' or a separator ('&', and ';', which some parsers also split on),
// decoded as url.QueryUnescape decodes them.
func (s *overrideScanner) urlencoded(b []byte) {
	semi := -1 // the index of the next ';' at or after i, len(b) for none; -1: not looked for
	for i := 0; i < len(b); i++ {
		if s.inValue {
			// Values are not read: skip to the next separator ('&'
			// and ';' looked for apart, with IndexByte's vector code;
			// ';' is rare, so its index is kept).
			if semi < i {
				semi = len(b)
				if j := bytes.IndexByte(b[i:], ';'); j >= 0 {
					semi = i + j
				}
			}
			next := semi
			if j := bytes.IndexByte(b[i:semi], '&'); j >= 0 {
				next = i + j
			}
			if next == len(b) {
				return
			}
			i = next
		}
		c := b[i]
		if (s.long || s.rest) && s.pct == 0 && c != '=' && c != '&' && c != ';' && c != '%' {
			continue // the rest of a name that is decided (escapes are still checked)
		}
		switch {
		case c == '&' || c == ';':
			s.endKey()
			s.inValue = false
		case s.inValue:
		case c == '=':
			s.endKey()
			s.inValue = true
		case s.pct > 0:
			if !hexdigit.Is(c) {
				s.err = errMethodOverrideBody // undecodable: refuse rather than guess, as in the query
			} else if s.pct == 1 {
				s.hex, s.pct = hexdigit.Value(c)<<4, 2
			} else {
				s.pct = 0
				s.keyByte(s.hex | hexdigit.Value(c))
			}
		case c == '%':
			s.pct = 1
		case c == '+':
			s.keyByte(' ')
		default:
			s.keyByte(c)
		}
		if s.err != nil {
			return
		}
	}
}

// keyByte adds a decoded byte to the name being read, as overrideKey
// reads names: leading spaces dropped, then leading brackets (counted in
// lead), the name cut at a NUL or a bracket after them.
func (s *overrideScanner) keyByte(c byte) {
	switch {
	case s.rest || s.long:
	case len(s.key) == 0 && c == ' ' && s.lead == 0:
	case len(s.key) == 0 && (c == '[' || c == ']'):
		if s.lead == 0 && c == '[' {
			s.lead = 1
		} else {
			s.lead = 2
		}
	case c == 0 || c == '[' || c == ']':
		s.rest = true
	case len(s.key) == s.maxKey:
		s.long = true
	default:
		s.key = append(s.key, c)
	}
}

// endKey decides on the name read, if any, and starts the next one.
func (s *overrideScanner) endKey() {
	if s.inValue {
		return
	}
	switch {
	case s.pct != 0 || !s.long && len(s.key) >= len("method") && overrideKey([]string{"", "[", "[]"}[s.lead]+string(s.key)):
		s.err = errMethodOverrideBody // an override, or a name ending in a cut escape
	case s.tokens && !s.long && len(s.key) == len("access_token") && tokenKey(string(s.key)):
		// Leading brackets dropped, as Rack 2 drops them.
		s.err = errTokenBody
	}
	s.key, s.rest, s.long, s.pct, s.lead = s.key[:0], false, false, 0, 0
}

// multipart reads b as the next bytes of a multipart body. A line that
// starts with the delimiter (after spaces, which Rack 2 strips), or a
// line that ends with it (see below), opens a part, whose header block
// (up to an empty line, which must end in CRLF CRLF) is read for the
// field name. Lines end at '\n' (with or without '\r' before it, as
// Go's and PHP's parsers read them; none of Rack, PHP, Go or busboy ends
// a line at a lone '\r'); the closing delimiter does not stop the
// reading.
func (s *overrideScanner) multipart(b []byte) {
	for len(b) > 0 {
		if s.inHeader {
			i := bytes.IndexByte(b, '\n')
			line := b
			if i >= 0 {
				line = b[:i+1]
			}
			if len(s.header)+len(line) > maxPartHeader {
				s.err = fmt.Errorf("%w: over 16 KiB", errFormBodyUnreadable)
				return
			}
			s.header = append(s.header, line...)
			b = b[len(line):]
			if s.hline += len(line); s.hline > maxPartHeaderLine {
				s.err = fmt.Errorf("%w: a line over 4 KiB", errFormBodyUnreadable)
				return
			}
			if i >= 0 {
				s.hline = 0
			}
			if i >= 0 && headerBlockDone(s.header) {
				s.partHeader()
				if s.err == nil && !bytes.HasPrefix(s.header, []byte("--")) && !bytes.HasSuffix(s.header, []byte("\r\n\r\n")) {
					s.err = fmt.Errorf("%w: not ended by CRLF CRLF", errFormBodyUnreadable)
				}
				if s.err != nil {
					return
				}
				s.inHeader, s.atStart = false, true
			}
			continue
		}
		if s.atStart {
			if len(s.lineHead) == 0 {
				// Rack 2 compares each line stripped of the
				// whitespace (and NULs) around it with the
				// delimiter: leading ones are skipped.
				i := 0
				for i < len(b) && strings.IndexByte(" \t\v\f\r\x00", b[i]) >= 0 {
					i++
				}
				if b = b[i:]; len(b) == 0 {
					return
				}
			}
			// Collect the start of the line until it can be compared
			// with the delimiter.
			take := min(len(s.delim)-len(s.lineHead), len(b))
			if i := bytes.IndexByte(b[:take], '\n'); i >= 0 {
				s.lineHead = s.lineHead[:0] // a short line: not a delimiter
				b = b[i+1:]
				continue
			}
			s.lineHead = append(s.lineHead, b[:take]...)
			b = b[take:]
			if len(s.lineHead) < len(s.delim) {
				return // the rest of the line start is in the next read
			}
			s.atStart = false
			if bytes.Equal(s.lineHead, s.delim) {
				// The rest of the delimiter line ("--" for the closing
				// one, or padding) is the first line of the header
				// block.
				s.seen, s.inHeader, s.header, s.hline = true, true, s.header[:0], 0
			} else {
				s.lineEnd(s.lineHead)
				if !s.seen {
					s.pre = append(s.pre[:0], s.lineHead[1:]...)
				}
			}
			s.lineHead = s.lineHead[:0]
			continue
		}
		// In a data line: skip to its end.
		i := bytes.IndexByte(b, '\n')
		if !s.seen {
			// In the preamble, the delimiter is looked for anywhere in
			// a line: PHP reads a line longer than its buffer (5 KiB)
			// in pieces, the next of which may start with it.
			seg := b
			if i >= 0 {
				seg = b[:i]
			}
			w := append(s.pre, seg...)
			if k := bytes.Index(w, s.delim); k >= 0 {
				b = b[k+len(s.delim)-len(s.pre):]
				s.pre, s.core, s.gap = s.pre[:0], s.core[:0], s.gap[:0]
				s.seen, s.inHeader, s.header, s.hline = true, true, s.header[:0], 0
				continue
			}
			s.pre = keepLast(w, len(s.delim)-1)
			if i >= 0 {
				s.pre = s.pre[:0]
			}
		}
		if i < 0 {
			s.lineEnd(b)
			return
		}
		var ends bool
		if j := trimRightSpace(b[:i]); j >= len(s.delim) {
			ends = bytes.HasSuffix(b[:j], s.delim) // the line's end is in this read
		} else {
			s.lineEnd(b[:i]) // with its start, in core and gap
			ends = bytes.HasSuffix(s.core, s.delim)
		}
		s.core, s.gap = s.core[:0], s.gap[:0]
		b = b[i+1:]
		s.atStart = true
		if ends {
			// A line that ends with the delimiter (and spaces): Rack 2
			// takes the end of each read of the body for the end of a
			// line, so the delimiter may start a line there (its reads
			// are 1 MiB, or what the socket gives under Unicorn), and
			// its body pattern ends a part at "--boundary\r\n"
			// anywhere. The next line starts a header block.
			s.atStart, s.seen, s.inHeader, s.header, s.hline = false, true, true, append(s.header[:0], "\r\n"...), 0
		}
	}
}

// lineEnd follows the end of a data line through seg, its next bytes:
// core keeps the line's last len(delim) bytes up to its last non-space
// byte (spaces as Ruby's String#strip takes them), gap the spaces after.
func (s *overrideScanner) lineEnd(seg []byte) {
	l := len(s.delim)
	j := trimRightSpace(seg)
	if j >= l {
		s.core = append(s.core[:0], seg[j-l:j]...)
	} else if j > 0 {
		s.core = keepLast(append(append(s.core, s.gap...), seg[:j]...), l)
	}
	if j > 0 {
		s.gap = s.gap[:0]
	}
	if len(seg)-j >= l {
		s.gap = append(s.gap[:0], seg[len(seg)-l:]...)
	} else {
		s.gap = keepLast(append(s.gap, seg[j:]...), l)
	}
}

// trimRightSpace returns the length of b without the spaces at its end,
// as Ruby's String#strip takes them (and NUL).
func trimRightSpace(b []byte) int {
	j := len(b)
	for j > 0 {
		switch b[j-1] {
		case ' ', '\t', '\v', '\f', '\r', 0:
			j--
			continue
		}
		break
	}
	return j
}

// keepLast returns the last n bytes of b, in b's array.
func keepLast(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	copy(b, b[len(b)-n:])
	return b[:n]
}

// headerBlockDone reports whether h, a part's header block whose first
// line is the rest of the delimiter line, is complete: it ends with an
// empty line, or it is the closing delimiter's line.
func headerBlockDone(h []byte) bool {
	return bytes.HasPrefix(h, []byte("--")) ||
		bytes.HasSuffix(h, []byte("\n\n")) || bytes.HasSuffix(h, []byte("\n\r\n"))
}

// partHeader reads a part's header block for its field name: every
// Content-Disposition line, continuation lines unfolded, the rest of the
// delimiter line included (read by no parser as a header, but cheap to
// doubt); and the block as the frameworks' looser readers take it
// (looseNameOverride).
func (s *overrideScanner) partHeader() {
	s.partHeaderFor(methodField)
	if s.err == nil && s.tokens {
		s.partHeaderFor(tokenField)
	}
}

// partHeaderFor reads a part's header block for a field named f.
func (s *overrideScanner) partHeaderFor(f fieldName) {
	// Unfolded into one buffer, each header read when the next starts
	// (appending to a string per continuation line was quadratic: 1 s
	// of CPU for a MiB of folded lines).
	var line []byte
	disposition := func() bool {
		name, value, ok := bytes.Cut(line, []byte(":"))
		return ok && strings.EqualFold(string(bytes.TrimSpace(name)), "Content-Disposition") && dispositionOverride(string(value), f)
	}
	for i, l := range bytes.Split(s.header, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if i > 0 && len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
			line = append(append(line, ' '), bytes.TrimSpace(l)...)
			continue
		}
		if disposition() {
			s.err = f.err
			return
		}
		line = append(line[:0], l...)
	}
	if disposition() {
		s.err = f.err
		return
	}
	if looseNameOverride(s.header, f) {
		s.err = f.err
	}
}

// looseNameOverride reports whether a part's header block names field f
// (a method override, say) as Rack or PHP may read it:
//   - Rack 2 finds the name with /Content-Disposition:[^:]*;\s*name=(VALUE)/
//     (2.0: .*\s+name=), anywhere in the block, across lines and inside
//     other headers or quoted values; Rack 3.1 with its own parameter
//     reader; PHP reads the first word of the value as a parameter
//     too ("Content-Disposition:name=x"). Every "name" after the start,
//     a space, ';' or ':', then '=',
//     is taken, its value quoted (with '"' or, as PHP quotes, '\”) or up
//     to a space, ';' or ','.
//   - PHP appends a header line without ':' to the line before it, with
//     nothing between: the block is also read joined so.
//   - Rack names a part without a name after its Content-ID.
func looseNameOverride(h []byte, f fieldName) bool {
	raw := string(h)
	var joined strings.Builder
	for i, l := range strings.Split(raw, "\n") {
		l = strings.TrimRight(l, "\r")
		if i > 0 && (l == "" || l[0] == ' ' || l[0] == '\t' || !strings.Contains(l, ":")) {
			joined.WriteString(l)
			continue
		}
		joined.WriteString("\n" + l)
	}
	for _, text := range []string{raw, joined.String()} {
		low := strings.ToLower(text)
		for i := 0; ; {
			j := strings.Index(low[i:], "name")
			if j < 0 {
				break
			}
			j += i
			i = j + len("name")
			if j > 0 && !strings.ContainsRune(" \t\r\n;:", rune(low[j-1])) {
				continue // "filename", "xname"
			}
			v := strings.TrimLeft(text[i:], " \t")
			v, ok := strings.CutPrefix(v, "=")
			if !ok {
				continue
			}
			if nameValueOverride(strings.TrimLeft(v, " \t"), f) {
				return true
			}
		}
		// A Content-ID's value is the rest of its line: only a line's
		// last one can name an override (one before it runs into the
		// next's ':'), and reading each to the end was quadratic.
		for lineStart := 0; lineStart < len(low); {
			lineEnd := strings.IndexByte(low[lineStart:], '\n')
			if lineEnd < 0 {
				lineEnd = len(low)
			} else {
				lineEnd += lineStart
			}
			if j := strings.LastIndex(low[lineStart:lineEnd], "content-id:"); j >= 0 &&
				f.is(strings.TrimSpace(text[lineStart+j+len("content-id:"):lineEnd])) {
				return true
			}
			lineStart = lineEnd + 1
		}
	}
	return false
}

// nameValueOverride reads the value at the start of v, quoted with '"'
// or '\” or a token, as the readers above may, and reports whether any
// reading names field f: as it is, without its backslash escapes,
// percent-decoded.
func nameValueOverride(v string, f fieldName) bool {
	var val string
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		q := v[0]
		end := len(v)
		for k := 1; k < len(v); k++ {
			if v[k] == '\\' {
				k++
				continue
			}
			if v[k] == q {
				end = k
				break
			}
		}
		val = v[1:end]
	} else {
		// Up to '=' too, which no override name has: each value then
		// ends before the next "name=" (reading to the end of a long
		// line for each was quadratic).
		end := strings.IndexAny(v, " \t\r\n;,\"=")
		if end < 0 {
			end = len(v)
		}
		val = v[:end]
	}
	for _, n := range []string{val, unbackslash(val)} {
		if f.is(n) {
			return true
		}
		if strings.ContainsAny(n, "%+") {
			if u, err := url.QueryUnescape(n); err == nil && f.is(u) {
				return true
			}
		}
	}
	return false
}

// unbackslash drops each backslash and keeps the byte after it, as Rack's
// dequote and Go's quoted-string reader do.
func unbackslash(v string) string {
	if !strings.Contains(v, "\\") {
		return v
	}
	b := make([]byte, 0, len(v))
	for k := 0; k < len(v); k++ {
		if v[k] == '\\' && k+1 < len(v) {
			k++
		}
		b = append(b, v[k])
	}
	return string(b)
}

// dispositionOverride reports whether a Content-Disposition value names
// field f (a method override, say): its name (or RFC 2231 name*)
// parameter as mime.ParseMediaType reads it, also percent-decoded. A
// value ParseMediaType cannot read is taken for one when it mentions
// f.hint ("method") at all: another parser may find a name in it.
func dispositionOverride(v string, f fieldName) bool {
	_, params, err := mime.ParseMediaType(v)
	if err != nil {
		return strings.Contains(strings.ToLower(v), f.hint)
	}
	name := params["name"]
	if f.is(name) {
		return true
	}
	if strings.ContainsAny(name, "%+") {
		u, err := url.QueryUnescape(name)
		if err != nil {
			return strings.Contains(strings.ToLower(name), f.hint)
		}
		return f.is(u)
	}
	return false
}
