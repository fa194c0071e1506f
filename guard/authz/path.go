package authz

import (
	"errors"
	"strings"

	"github.com/wardsec/ward/internal/hexdigit"
)

// Errors of Normalize. A request whose path fails normalisation is denied
// whatever the policies say; Decision.Reason names the error.
var (
	// ErrEncodedSlash is a percent-encoded slash or backslash (%2F, %5C):
	// the backend may decode it into a separator that the policy never
	// saw (CVE-2021-31920).
	ErrEncodedSlash = errors.New("encoded slash or backslash (%2F, %5C) in path")
	// ErrBackslash is a literal backslash, which some backends treat as a
	// separator.
	ErrBackslash = errors.New("backslash in path")
	// ErrDotSegment is a "." or ".." segment, also once decoded (%2E).
	ErrDotSegment = errors.New("dot segment (. or ..) in path")
	// ErrMalformedPath is a path that does not start with "/", has a
	// control character or a bad percent-encoding.
	ErrMalformedPath = errors.New("malformed path")
)

// Normalize returns the form of an escaped request path (as on the request
// line, before percent-decoding) that authorization policies match:
//
//   - the query and fragment, if any, are dropped ("request.url_path");
//   - percent-encoded unreserved characters (letters, digits, "-._~") are
//     decoded and other escapes are upper-cased, so "/%61dmin" is "/admin"
//     and "%c3%a9" is "%C3%A9" (RFC 3986 section 6.2.2); so are the
//     sub-delimiters, ":" and "@" but ";" and "+" (see decodes), which servers
//     decode in a path as they do letters: "/users/1%3Adelete" is
//     "/users/1:delete";
//   - characters that may not appear raw in a path (space, quotes, "<>",
//     non-ASCII bytes, ...) are percent-encoded;
//   - runs of slashes are merged: "//admin" is "/admin".
//
// It rejects, with ErrEncodedSlash, ErrBackslash, ErrDotSegment or
// ErrMalformedPath, what a backend could resolve to another resource than
// the one the policy matched: encoded slashes and backslashes, backslashes,
// "." and ".." segments (also as "%2e"), paths not starting with "/"
// (except the asterisk form "*"), bad escapes and control characters.
// Rejecting dot segments rather than resolving them is stricter than
// Envoy's RFC 3986 normalisation: no legitimate client sends them.
//
// Normalize is idempotent, and a path it returns holds neither "//" nor a
// dot segment. It does not allocate when the path is already normal.
// Paths are case-sensitive, as in Istio: "/ADMIN" is not "/admin".
func Normalize(path string) (string, error) {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "*" {
		return path, nil
	}
	if path == "" || path[0] != '/' {
		return "", ErrMalformedPath
	}
	clean := true
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '\\':
			return "", ErrBackslash
		case c < 0x20 || c == 0x7f:
			return "", ErrMalformedPath
		case c == '%':
			if i+2 >= len(path) || !hexdigit.Is(path[i+1]) || !hexdigit.Is(path[i+2]) {
				return "", ErrMalformedPath
			}
			b := hexdigit.Value(path[i+1])<<4 | hexdigit.Value(path[i+2])
			if b == '/' || b == '\\' {
				return "", ErrEncodedSlash
			}
			if decodes(b) || path[i+1] >= 'a' || path[i+2] >= 'a' {
				clean = false // decoded or upper-cased below
			}
			i += 2
		case !pathChar(c):
			clean = false
		case c == '/' && i > 0 && path[i-1] == '/':
			clean = false
		}
	}
	if clean {
		if hasDotSegment(path) {
			return "", ErrDotSegment
		}
		return path, nil
	}
	out := make([]byte, 0, len(path)+8)
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '%':
			if i+2 >= len(path) || !hexdigit.Is(path[i+1]) || !hexdigit.Is(path[i+2]) {
				return "", ErrMalformedPath
			}
			b := hexdigit.Value(path[i+1])<<4 | hexdigit.Value(path[i+2])
			i += 2
			switch {
			case b == '/' || b == '\\':
				return "", ErrEncodedSlash
			case decodes(b):
				out = append(out, b)
			default:
				out = append(out, '%', upperHex[b>>4], upperHex[b&15])
			}
		case c == '/':
			if len(out) == 0 || out[len(out)-1] != '/' {
				out = append(out, '/')
			}
		case pathChar(c):
			out = append(out, c)
		default:
			out = append(out, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	p := string(out)
	if hasDotSegment(p) {
		return "", ErrDotSegment
	}
	return p, nil
}

// hasDotSegment reports whether p has a "." or ".." segment.
func hasDotSegment(p string) bool {
	for len(p) > 0 {
		var seg string
		i := strings.IndexByte(p, '/')
		if i < 0 {
			seg, p = p, ""
		} else {
			seg, p = p[:i], p[i+1:]
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

const upperHex = "0123456789ABCDEF"

// unreserved reports whether c is an RFC 3986 unreserved character, which
// percent-encoding does not change the meaning of.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// decodes reports whether Normalize decodes an escape of c: an unreserved
// character, or a sub-delimiter, ":" or "@" but ";" and "+". Servers
// decode these in a path before routing as they decode letters (Go's
// ServeMux, Express, Spring, Rails): a policy on "/users/{*}:delete" or
// "/api/@admin" compared with "%3A" or "%40" left as written denied
// nothing, while the upstream ran the handler it named. ";" stays
// escaped (and Ambiguous refuses it either way), "/" and "\" are
// refused, and "%2B" is kept: S3 and servers like it read a raw "+" in a
// path as a space, so decoding it would change the resource.
func decodes(c byte) bool {
	return unreserved(c) || c != ';' && c != '/' && c != '+' && pathChar(c)
}

// pathChar reports whether c may appear unencoded in a path segment or as
// its separator: unreserved, sub-delims, ":", "@" and "/" (RFC 3986 pchar).
func pathChar(c byte) bool {
	if unreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	}
	return false
}

// canonicalEscapes decodes the escapes of a policy's path pattern that
// Normalize decodes (decodes) and upper-cases the others, so that
// "/%61dmin" in a policy matches the normalised "/admin", and encodes
// the raw bytes that Normalize encodes (non-ASCII, space, "|", "[", ...),
// so that "/café" matches the normalised "/caf%C3%A9": compared as
// written, a DENY of "/café" matched no request while http.ServeMux,
// which matches decoded segments, ran the "/café" handler. Malformed
// escapes are kept as written, and so are "?", "#" and "\\", which no
// normalised path holds (Compile warns of them).
func canonicalEscapes(s string) string {
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = s[i] != '%' && !encodedInPolicy(s[i])
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if encodedInPolicy(c) {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
			continue
		}
		if c == '%' && i+2 < len(s) && hexdigit.Is(s[i+1]) && hexdigit.Is(s[i+2]) {
			d := hexdigit.Value(s[i+1])<<4 | hexdigit.Value(s[i+2])
			if decodes(d) {
				b.WriteByte(d)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex[d>>4])
				b.WriteByte(upperHex[d&15])
			}
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// encodedInPolicy reports whether canonicalEscapes percent-encodes the
// raw byte c of a policy path, as Normalize encodes it in a request path:
// a byte that may not appear raw in a path, control characters (which
// Normalize refuses) and "%?#\\" aside.
func encodedInPolicy(c byte) bool {
	return c >= 0x80 || c >= 0x20 && c < 0x7f && !pathChar(c) && strings.IndexByte("%?#\\", c) < 0
}

// Errors of Ambiguous.
var (
	errPathParameter = errors.New("path parameter (;) in path")
	errEncodedCtl    = errors.New("encoded control character in path")
	errDoubleEncoded = errors.New("double-encoded escape (%25XX) in path")
	errOverlongUTF8  = errors.New("overlong UTF-8 encoding in path")
)

// Ambiguous refuses a normalized path ([Normalize]'s output:
// escapes upper case, raw bytes outside pchar already escaped) that an
// upstream could resolve to another resource than the one the checks
// matched, as Spring Security's StrictHttpFirewall does:
//
//   - ";" or "%3B": path parameters, which Tomcat, Jetty and Spring strip
//     before routing, so "/admin;x" is "/admin" there and "/api/..;/admin"
//     climbs to "/admin";
//   - an encoded control character ("%00", "%0D%0A", "%7F"), which C
//     code truncates at and which splits lines in logs and redirects;
//   - "%25" before two hex digits: an escape that an upstream decoding
//     twice (or a second proxy) turns into "%2F", "%2E" or "%61";
//   - overlong UTF-8 ("%C0%AE" for ".", "%E0%80%AF" for "/"), which
//     lenient decoders read as the ASCII character.
func Ambiguous(p string) error {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case ';':
			return errPathParameter
		case '%':
			if i+2 >= len(p) {
				return ErrMalformedPath
			}
			b := hexdigit.Value(p[i+1])<<4 | hexdigit.Value(p[i+2])
			next := -1 // the byte of a following escape, if any
			if i+5 < len(p) && p[i+3] == '%' {
				next = int(hexdigit.Value(p[i+4])<<4 | hexdigit.Value(p[i+5]))
			}
			switch {
			case b == ';':
				return errPathParameter
			case b < 0x20 || b == 0x7f:
				return errEncodedCtl
			case b == '%' && i+4 < len(p) && hexdigit.Is(p[i+3]) && hexdigit.Is(p[i+4]):
				return errDoubleEncoded
			case b == 0xc0 || b == 0xc1,
				b == 0xe0 && next >= 0x80 && next < 0xa0,
				b == 0xf0 && next >= 0x80 && next < 0x90:
				return errOverlongUTF8
			}
			i += 2
		}
	}
	return nil
}
