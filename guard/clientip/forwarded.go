package clientip

import (
	"net/netip"
	"strings"
)

// fromForwarded applies the right-to-left walk to the RFC 7239 Forwarded
// header, all lines in order.
//
// Elements are separated by commas outside quoted strings, so they are
// found by a forward scan; instead of storing them, the scan remembers the
// right-most element that stops the walk (an untrusted address, or one
// that cannot be read) and the left-most element. That is the same answer
// as the walk from the right, without allocating.
//
// A quoted string that a client leaves open swallows everything after it
// on that line, including the elements trusted proxies appended; that
// element is unreadable, so the answer is unknown rather than anything the
// client chose. Proxies that add a header line of their own instead of
// appending to the client's line are not affected.
func (r *Resolver) fromForwarded(lines []string, peer netip.Addr) netip.Addr {
	var (
		stopped  bool
		stop     netip.Addr // valid only when the stopping hop was an untrusted address
		leftmost = peer
		seen     bool
	)
	for _, line := range lines {
		for i := 0; i < len(line); {
			elem, next, closed := nextElement(line, i)
			i = next
			if trimOWS(elem) == "" && closed {
				continue // empty list element
			}
			a, ok := netip.Addr{}, false
			if closed {
				a, ok = parseElement(elem)
			}
			if !seen {
				leftmost, seen = a, true
			}
			if !ok || !r.Trusted(a) {
				stopped, stop = true, a
			}
		}
	}
	if stopped {
		return stop
	}
	return leftmost
}

// nextElement returns the forwarded-element that starts at s[i], the index
// after the comma that ends it, and whether every quoted string in it was
// closed.
func nextElement(s string, i int) (elem string, next int, closed bool) {
	inQuote := false
	for j := i; j < len(s); j++ {
		switch c := s[j]; {
		case inQuote && c == '\\':
			j++ // quoted-pair: the next byte is literal
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ',':
			return s[i:j], j + 1, true
		}
	}
	return s[i:], len(s), !inQuote
}

// parseElement reads one forwarded-element,
//
//	forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
//	forwarded-pair    = token "=" value
//	value             = token / quoted-string
//
// tolerating white space around pairs, and returns the address of its for=
// node. ok is false for a syntax error, a missing or repeated for=, or a
// node that is not an address ("unknown", an obfuscated identifier).
func parseElement(elem string) (netip.Addr, bool) {
	var (
		node   string
		hasFor bool
	)
	for s := elem; ; {
		s = trimOWSLeft(s)
		if s == "" {
			break
		}
		if s[0] == ';' {
			s = s[1:]
			continue
		}
		n := tokenLen(s)
		if n == 0 || n == len(s) || s[n] != '=' {
			return netip.Addr{}, false
		}
		name := s[:n]
		s = s[n+1:]
		var (
			value string
			ok    bool
		)
		if s != "" && s[0] == '"' {
			value, s, ok = quotedString(s)
			if !ok {
				return netip.Addr{}, false
			}
		} else {
			m := tokenLen(s)
			if m == 0 {
				return netip.Addr{}, false
			}
			value, s = s[:m], s[m:]
		}
		if strings.EqualFold(name, "for") {
			if hasFor {
				return netip.Addr{}, false // RFC 7239 section 4: at most once
			}
			node, hasFor = value, true
		}
		s = trimOWSLeft(s)
		if s != "" && s[0] != ';' {
			return netip.Addr{}, false
		}
	}
	if !hasFor {
		return netip.Addr{}, false
	}
	return parseNode(node)
}

// parseNode reads an RFC 7239 node:
//
//	node     = nodename [ ":" node-port ]
//	nodename = IPv4address / "[" IPv6address "]" / "unknown" / obfnode
//
// Only an IPv4 or bracketed IPv6 address yields ok; the port, when
// present, must be well formed but is otherwise ignored.
func parseNode(node string) (netip.Addr, bool) {
	var host, port string
	var hasPort bool
	if rest, ok := strings.CutPrefix(node, "["); ok {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return netip.Addr{}, false
		}
		host = rest[:j]
		rest = rest[j+1:]
		if rest != "" {
			if rest[0] != ':' {
				return netip.Addr{}, false
			}
			port, hasPort = rest[1:], true
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		if hasPort && !validNodePort(port) {
			return netip.Addr{}, false
		}
		return canonical(a), true
	}
	host, port, hasPort = strings.Cut(node, ":")
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() { // "unknown", "_obf" and bare IPv6 land here
		return netip.Addr{}, false
	}
	if hasPort && !validNodePort(port) {
		return netip.Addr{}, false
	}
	return a, true
}

// validNodePort reports whether p is a node-port: 1*5DIGIT, or an
// obfuscated port "_" 1*(ALPHA / DIGIT / "." / "_" / "-").
func validNodePort(p string) bool {
	if p == "" {
		return false
	}
	if p[0] == '_' {
		if len(p) == 1 {
			return false
		}
		for i := 1; i < len(p); i++ {
			c := p[i]
			if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
		return true
	}
	if len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// quotedString reads the quoted-string at the start of s (s[0] == '"')
// and returns its unescaped content and the rest of s.
//
//	quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
//	qdtext        = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
//	quoted-pair   = "\" ( HTAB / SP / VCHAR / obs-text )
//
// Content without escapes is returned as a substring of s; only content
// with escapes (never written by real proxies) is copied.
func quotedString(s string) (value, rest string, ok bool) {
	escaped := false
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '"':
			if !escaped {
				return s[1:j], s[j+1:], true
			}
			return unescape(s[1:j]), s[j+1:], true
		case c == '\\':
			if j+1 >= len(s) || !isQuotedPairChar(s[j+1]) {
				return "", "", false
			}
			escaped = true
			j++
		case !isQDText(c):
			return "", "", false
		}
	}
	return "", "", false // unterminated
}

// unescape removes the backslashes of quoted-pairs from s, whose syntax
// quotedString has checked.
func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isQDText(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
		(c >= 0x5D && c <= 0x7E) || c >= 0x80
}

func isQuotedPairChar(c byte) bool {
	return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7E) || c >= 0x80
}

// tokenLen returns the length of the token (RFC 9110 tchar run) at the
// start of s.
func tokenLen(s string) int {
	for i := 0; i < len(s); i++ {
		if !isTChar(s[i]) {
			return i
		}
	}
	return len(s)
}

func isTChar(c byte) bool { return tchar[c] }

// tchar marks the bytes RFC 9110 allows in a token.
var tchar = func() (t [256]bool) {
	for c := range 256 {
		b := byte(c)
		t[c] = isAlnum(b) || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
	}
	return t
}()

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func trimOWSLeft(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}
