package fastyaml

import (
	"strconv"
	"strings"
	"time"
)

// Tags of resolved plain scalars, as yaml.v3 writes them in Node.Tag.
const (
	nullTag      = "!!null"
	boolTag      = "!!bool"
	strTag       = "!!str"
	intTag       = "!!int"
	floatTag     = "!!float"
	timestampTag = "!!timestamp"
)

// hint classifies the first byte of a plain scalar as yaml.v3's resolve
// table does: 0 means it can only be a string.
var hint = func() (t [256]byte) {
	t['+'], t['-'] = 'S', 'S'
	for c := '0'; c <= '9'; c++ {
		t[c] = 'D'
	}
	for _, c := range "yYnNtTfFoO~<" {
		t[c] = 'M'
	}
	t['.'] = '.'
	return t
}()

// numChar marks the bytes that some number syntax yaml.v3 tries accepts
// (strconv.ParseInt and ParseUint with base prefixes, and YAML-style
// floats). A scalar with any other byte cannot be a number, so resolve can
// skip the parsers, which allocate an error for each failure.
var numChar = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEFxXoO+-.eE_" {
		t[c] = true
	}
	return t
}()

// resolve returns the tag yaml.v3 gives the non-empty plain scalar s when
// decoding into a Node, or "" for the merge key "<<", which this package
// does not support. It follows yaml.v3's resolve (resolve.go) step by
// step; the differential tests hold the two together.
func resolve(s string) string {
	h := hint[s[0]]
	if h == 0 {
		return strTag
	}
	// yaml.v3's resolveMap.
	switch s {
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return boolTag
	case "~", "null", "Null", "NULL":
		return nullTag
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
		"+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return floatTag
	case "<<":
		return ""
	}
	switch h {
	case '.':
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return floatTag
		}
	case 'D', 'S':
		if isTimestamp(s) {
			return timestampTag
		}
		plain := s
		if strings.IndexByte(s, '_') >= 0 {
			plain = strings.ReplaceAll(s, "_", "")
		}
		for i := 0; i < len(plain); i++ {
			if !numChar[plain[i]] {
				return strTag
			}
		}
		// No integer syntax has a '.': an IP address or a version skips
		// the integer parses (and the errors they allocate).
		dot := strings.IndexByte(plain, '.') >= 0
		if !dot {
			if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
				return intTag
			}
			if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
				return intTag
			}
		}
		if yamlStyleFloat(plain) {
			if _, err := strconv.ParseFloat(plain, 64); err == nil {
				return floatTag
			}
		}
		if dot {
			return strTag
		}
		if rest, ok := strings.CutPrefix(plain, "0b"); ok {
			if _, err := strconv.ParseInt(rest, 2, 64); err == nil {
				return intTag
			}
			if _, err := strconv.ParseUint(rest, 2, 64); err == nil {
				return intTag
			}
		} else if rest, ok := strings.CutPrefix(plain, "-0b"); ok {
			if _, err := strconv.ParseInt("-"+rest, 2, 64); err == nil {
				return intTag
			}
		}
		if rest, ok := strings.CutPrefix(plain, "0o"); ok {
			if _, err := strconv.ParseInt(rest, 8, 64); err == nil {
				return intTag
			}
			if _, err := strconv.ParseUint(rest, 8, 64); err == nil {
				return intTag
			}
		} else if rest, ok := strings.CutPrefix(plain, "-0o"); ok {
			if _, err := strconv.ParseInt("-"+rest, 8, 64); err == nil {
				return intTag
			}
		}
	}
	return strTag
}

// yamlStyleFloat matches ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$.
func yamlStyleFloat(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	} else {
		if digits() == 0 {
			return false
		}
		if i < len(s) && s[i] == '.' {
			i++
			digits()
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// timestampFormats are yaml.v3's allowedTimestampFormats.
var timestampFormats = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

// isTimestamp reports whether yaml.v3's parseTimestamp accepts s.
func isTimestamp(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			break
		}
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return false
	}
	for _, f := range timestampFormats {
		if _, err := time.Parse(f, s); err == nil {
			return true
		}
	}
	return false
}
