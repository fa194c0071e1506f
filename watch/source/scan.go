package source

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// scanner is a minimal JSON reader for the fixed record shapes of flow
// exports: it walks a line once, hands out strings as sub-slices of the
// line (unescaping into a scratch buffer only when needed) and skips what
// it does not read, checking syntax as it goes. It is hand-written
// because encoding/json (and every general decoder) builds the whole
// record (every label, every nested object) before Ward reads six fields
// of it; see BenchmarkHubble for the ratio. It is tested against
// encoding/json on the same lines (TestHubbleDifferential) and fuzzed.
type scanner struct {
	b       []byte
	i       int
	scratch []byte // unescaped strings; reset per line
}

// maxDepth bounds nesting in skipped values (encoding/json allows 10000;
// flow records nest 5 deep).
const maxDepth = 64

func (s *scanner) reset(b []byte) {
	s.b, s.i, s.scratch = b, 0, s.scratch[:0]
}

func (s *scanner) errf(format string, args ...any) error {
	return fmt.Errorf("column %d: "+format, append([]any{s.i + 1}, args...)...)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		if s.i >= len(s.b) {
			return s.errf("unexpected end of line (truncated record?)")
		}
		return s.errf("want %q, found %q", c, s.b[s.i])
	}
	s.i++
	return nil
}

// object calls field for each key of an object; field must consume the
// value. It accepts null as an empty object.
func (s *scanner) object(field func(key []byte) error) error {
	if s.null() {
		return nil
	}
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.expect('}')
		}
	}
}

// array calls elem for each element of an array; elem must consume the
// value. It accepts null as an empty array.
func (s *scanner) array(elem func() error) error {
	if s.null() {
		return nil
	}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.expect(']')
		}
	}
}

func (s *scanner) null() bool {
	if s.peek() == 'n' && len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// str reads a string; the result is valid until the next line.
func (s *scanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.i
	b := s.b
	i := s.i
	// Eight bytes at a time while none is special (SWAR: a byte below
	// 0x20, a quote or a backslash sets its high bit in the mask).
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if special(x) != 0 {
			break
		}
		i += 8
	}
	for i < len(b) && plain[b[i]] {
		i++
	}
	s.i = i
	if i < len(b) {
		switch c := b[i]; {
		case c == '"':
			s.i++
			return b[start:i], nil
		case c == '\\':
			return s.strEscaped(start)
		default:
			return nil, s.errf("control character in string")
		}
	}
	return nil, s.errf("unterminated string (truncated record?)")
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special is non-zero when some byte of x is a control character, '"'
// or '\\' (the classic "has a byte less than n" and "has a zero byte"
// tests, exact for the question "is there one").
func special(x uint64) uint64 {
	ctl := (x - lsb*0x20) &^ x // some byte below 0x20
	q := x ^ (lsb * '"')
	bs := x ^ (lsb * '\\')
	quote := (q - lsb) &^ q // some byte of x is '"' (a zero byte of q)
	back := (bs - lsb) &^ bs
	return (ctl | quote | back) & msb
}

// plain marks the bytes a string holds as they are: not the quote, the
// backslash or a control character.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

func (s *scanner) strEscaped(start int) ([]byte, error) {
	out := len(s.scratch)
	s.scratch = append(s.scratch, s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.scratch[out:], nil
		case c < 0x20:
			return nil, s.errf("control character in string")
		case c != '\\':
			s.scratch = append(s.scratch, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.scratch = append(s.scratch, e)
		case 'b':
			s.scratch = append(s.scratch, '\b')
		case 'f':
			s.scratch = append(s.scratch, '\f')
		case 'n':
			s.scratch = append(s.scratch, '\n')
		case 'r':
			s.scratch = append(s.scratch, '\r')
		case 't':
			s.scratch = append(s.scratch, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.errf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					var ok2 bool
					if r2, ok2 = s.hex4(); !ok2 {
						return nil, s.errf("bad \\u escape")
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
					} else {
						s.i = save
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			s.scratch = utf8.AppendRune(s.scratch, r)
		default:
			return nil, s.errf("bad escape \\%c", e)
		}
	}
	return nil, s.errf("unterminated string (truncated record?)")
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

// uint reads a non-negative integer up to max: a JSON number, or with
// quoted (protojson's form for 64-bit values) a string of digits.
func (s *scanner) uint(max uint64, quoted bool) (uint64, error) {
	if s.null() {
		return 0, nil
	}
	if quoted {
		if err := s.expect('"'); err != nil {
			return 0, err
		}
	}
	start := s.i
	var v uint64
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		d := uint64(s.b[s.i] - '0')
		if v > (max-d)/10 {
			return 0, s.errf("number out of range (max %d)", max)
		}
		v = v*10 + d
		s.i++
	}
	if s.i == start || s.b[start] == '0' && s.i-start > 1 {
		return 0, s.errf("want an unsigned integer")
	}
	if s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '.' || c == 'e' || c == 'E':
			return 0, s.errf("want an unsigned integer")
		}
	}
	if quoted {
		if err := s.expect('"'); err != nil {
			return 0, err
		}
	}
	return v, nil
}

func (s *scanner) bool() (bool, error) {
	switch {
	case s.null():
		return false, nil
	case s.peek() == 't' && len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true":
		s.i += 4
		return true, nil
	case s.peek() == 'f' && len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false":
		s.i += 5
		return false, nil
	}
	return false, s.errf("want true or false")
}

// skip consumes one value of any kind.
func (s *scanner) skip() error { return s.skipDepth(0) }

func (s *scanner) skipDepth(depth int) error {
	if depth > maxDepth {
		return s.errf("nested deeper than %d", maxDepth)
	}
	switch c := s.peek(); {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		return s.object(func([]byte) error { return s.skipDepth(depth + 1) })
	case c == '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skipDepth(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return s.expect(']')
			}
		}
	case c == 't' || c == 'f' || c == 'n':
		if s.null() {
			return nil
		}
		_, err := s.bool()
		return err
	case c == '-' || '0' <= c && c <= '9':
		n := numberLen(s.b[s.i:])
		if n == 0 {
			return s.errf("bad number")
		}
		s.i += n
		return nil
	case c == 0:
		return s.errf("unexpected end of line (truncated record?)")
	}
	return s.errf("unexpected %q", s.b[s.i])
}

// numberLen is the length of the JSON number b starts with (RFC 8259:
// -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?), 0 when b does not
// start with one or one runs into a letter, digit or sign.
func numberLen(b []byte) int {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0
		}
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E' || b[i] == '+' || b[i] == '-' || '0' <= b[i] && b[i] <= '9') {
		return 0 // "01", "1.2.3", "1e5e5"
	}
	return i
}

// end checks that nothing but white space follows the value.
func (s *scanner) end() error {
	if s.peek() != 0 || s.i < len(s.b) {
		return s.errf("text after the record")
	}
	return nil
}

// unsafeString views b as a string without copying, for calls that do
// not keep their argument (strconv, netip.ParseAddr, which copies a zone
// through unique.Make).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b)) // #nosec G103 -- read-only view for a call that does not retain it (see above)
}

func parseAddr(b []byte) (netip.Addr, error) {
	a, err := netip.ParseAddr(unsafeString(b))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bad address %q", b)
	}
	// An IPv4 address written IPv4-mapped is the IPv4 address: the
	// inventory, the policies' ipBlocks and the windows know it so.
	return a.Unmap(), nil
}

// parseTime reads RFC 3339 time, by hand for the UTC form every exporter
// writes ("2023-08-21T12:12:18.510175415Z"), else through time.Parse.
//
// A time Unix nanoseconds cannot hold (before 1678, after 2262) is bad:
// UnixNano is undefined there, and such a time wrapped to another one.
func parseTime(b []byte) (int64, error) {
	t, ok := parseUTC(b)
	if !ok {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, string(b)); err != nil {
			return 0, fmt.Errorf("bad time %q", b)
		}
	}
	if err := inRange(t, b); err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

// inRange refuses a time Unix nanoseconds cannot hold (b is its text).
func inRange[S string | []byte](t time.Time, b S) error {
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("bad time %q: out of range (1678 to 2262)", b)
	}
	return nil
}

// minTime and maxTime bound the times an int64 of Unix nanoseconds holds.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	ns := 0
	rest := b[19 : len(b)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		f, ok := num(20, len(rest)-1)
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(rest) {
			f *= 10
		}
		ns = f
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC), true
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
