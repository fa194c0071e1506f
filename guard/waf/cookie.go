package waf

import "strings"

// quotedCookies returns the cookies of a Cookie header value v whose
// quoted values an application reads otherwise than Coraza, which splits
// v at ';' and inspects each value as written: Python's readers unquote
// a value in double quotes, decoding "\ooo" octal and "\c" escapes
// (Django's parse_cookie, through http.cookies._unquote, and Werkzeug's,
// so Flask), and Werkzeug and http.cookies.SimpleCookie (aiohttp) read a
// quoted value across ';'. q="1\047 OR \0471\047=\0471" is
// 1' OR '1'='1 to them. Each is returned unquoted, as both read it; a
// value without a backslash or a ';' inside its quotes is left to
// Coraza. It does not allocate for a header without '"'.
func quotedCookies(v string) []field {
	if strings.IndexByte(v, '"') < 0 {
		return nil
	}
	var out []field
	// Werkzeug and SimpleCookie: a value that starts with '"' runs to
	// the next unescaped '"', ';' or not.
	for i := 0; i < len(v); i++ {
		if v[i] != '"' {
			continue
		}
		j := i - 1
		for j >= 0 && (v[j] == ' ' || v[j] == '\t') {
			j--
		}
		if j < 0 || v[j] != '=' {
			continue // a quote inside a value, not one that opens it
		}
		end, special := -1, false
		for k := i + 1; k < len(v); k++ {
			switch v[k] {
			case '\\':
				special = true
				k++
			case ';':
				special = true
			case '"':
				end = k
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			break // unclosed: read as written, as Coraza does
		}
		if special {
			out = append(out, field{cookieName(v[:j]), unslash(v[i+1 : end])})
		}
		i = end
	}
	// Django: each ';'-separated value that starts and ends with '"'.
	for part := range strings.SplitSeq(v, ";") {
		name, val, ok := strings.Cut(part, "=")
		val = strings.TrimSpace(val)
		if ok && len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' && strings.IndexByte(val, '\\') >= 0 {
			out = append(out, field{strings.TrimSpace(name), unslash(val[1 : len(val)-1])})
		}
	}
	return out
}

// cookieName returns the name of the cookie whose "name=" ends s.
func cookieName(s string) string {
	if i := strings.LastIndexByte(s, ';'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// unslash decodes a quoted cookie value's escapes as Python does:
// "\ooo" (three octal digits, the first 0-3) is that byte, "\c" is c.
func unslash(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isOctal(s[i+1]) && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b = append(b, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
			continue
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }
