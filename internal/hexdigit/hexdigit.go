// Package hexdigit reads the hexadecimal digits of percent-escapes and
// \u escapes, for the WAF, the authorization paths and the proxy's
// method-override reader, which decode them byte by byte.
package hexdigit

// Is reports whether c is a hexadecimal digit, in either case.
func Is(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Value returns the value of the hexadecimal digit c. For a byte that
// is no digit it returns c-'0' up to '9', c-'a'+10 from 'a', c-'A'+10
// between: guard/authz reads the bytes after a "%" this way before it
// checks them.
func Value(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
