package proxy

import (
	"bytes"

	"github.com/wardsec/ward/internal/hexdigit"
)

// Method overrides in JSON bodies.
//
// Laravel keeps the fields of a JSON body (a Content-Type with "/json" or
// "+json" in it) in the request bag that Symfony's getMethod reads
// "_method" from, so {"_method": "DELETE"} in a POST runs the DELETE
// route. The scanner refuses an object key "_method" (escaped or not), at
// any depth (Laravel reads the top level; deeper ones cost nothing to
// refuse), when the ':' after it arrives: before the value leaves the
// proxy. Reads that cannot hold one are passed after a few vectorized
// searches (clean); the others are read byte by byte.

// jsonState is the JSON part of overrideScanner.
type jsonState struct {
	inString bool
	esc      int  // 0: none; 1: after '\'; 2-5: hex digits of \uXXXX read + 2
	u        rune // the \u escape being read
	key      []byte
	long     bool // the string is longer than any override name
	pending  bool // a string "_method" ended; a ':' next makes it a key
}

// jsonOverride is the name Laravel reads (Symfony's ParameterBag is
// case-sensitive and JSON names are not mangled as PHP's form names are).
var jsonOverride = []byte("_method")

// json reads b as the next bytes of a JSON body.
func (s *overrideScanner) json(b []byte) {
	j := &s.js
	for len(b) > 0 && s.err == nil {
		// What a window cannot skip is settled byte by byte first: the
		// rest of a short string, an escape, a name waiting for ':'.
		for len(b) > 0 && s.err == nil && (j.inString && !j.long || j.esc != 0 || j.pending) {
			if j.pending {
				// The spaces before its ':' at once (a MiB of them
				// took 7 ms a byte at a time).
				k := 0
				for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r' || b[k] == '\n') {
					k++
				}
				if k > 0 {
					b = b[k:]
					continue
				}
			}
			s.jsonBytes(b[:1])
			b = b[1:]
		}
		if len(b) == 0 || s.err != nil {
			return
		}
		// Then windows, so that an escape somewhere does not send a
		// whole read byte by byte.
		w := b[:min(len(b), jsonWindow)]
		b = b[len(w):]
		if !j.clean(w) {
			s.jsonBytes(w)
		}
	}
}

// jsonWindow is the size of the windows json reads.
const jsonWindow = 512

// jsonBytes reads b byte by byte.
func (s *overrideScanner) jsonBytes(b []byte) {
	j := &s.js
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !j.inString {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			case ':':
				if j.pending {
					s.err = errMethodOverrideBody
					return
				}
			case '"':
				// A string whole in b and without escapes (most are)
				// is decided at once.
				// (Loops rather than IndexByte: JSON strings are short,
				// and IndexByte's setup costs more than they do.)
				q := i + 1
				for q < len(b) && b[q] != '"' && b[q] != '\\' {
					q++
				}
				if q < len(b) && b[q] == '"' {
					j.pending = bytes.Equal(b[i+1:q], jsonOverride)
					i = q // the closing quote
					continue
				}
				j.pending = false
				j.inString, j.esc, j.key, j.long = true, 0, j.key[:0], false
				continue
			}
			j.pending = false
			// Skip to the next string: numbers, literals and
			// punctuation hold no names.
			k := i + 1
			for k < len(b) && b[k] != '"' {
				k++
			}
			if k == len(b) {
				return
			}
			// A ':' in between follows no pending name (cleared above).
			i = k - 1 // the loop's i++ lands on the '"'
			continue
		}
		if j.long && j.esc == 0 {
			// The rest of a long string: to its closing quote, or to a
			// backslash, whose escape must be followed.
			for i < len(b) && b[i] != '"' && b[i] != '\\' {
				i++
			}
			if i == len(b) {
				return
			}
			c = b[i]
		}
		switch {
		case j.esc == 1:
			switch c {
			case 'u':
				j.esc, j.u = 2, 0
				continue
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			}
			j.esc = 0
			j.keyByte(c)
		case j.esc >= 2:
			if !hexdigit.Is(c) {
				j.esc = 0 // not JSON: no parser takes a name from it
				j.long = true
				continue
			}
			j.u = j.u<<4 | rune(hexdigit.Value(c))
			if j.esc++; j.esc == 6 {
				j.esc = 0
				if j.u < 0x80 {
					j.keyByte(byte(j.u)) // #nosec G115 -- below 0x80, checked above
				} else {
					j.long = true // not ASCII: no override name
				}
			}
		case c == '\\':
			j.esc = 1
		case c == '"':
			j.inString = false
			j.pending = !j.long && bytes.Equal(j.key, jsonOverride)
		default:
			j.keyByte(c)
		}
	}
}

// clean reports whether b cannot hold an override name, and if so takes
// it as read: without escapes, without "_method" in it, with no name
// pending and no escape or short string being read (json settles those
// byte by byte first, so no name begun before b can end in it; a long
// string cannot be one). Only whether the bytes end inside a string is
// kept (the parity of its quotes), and the first bytes of a string left
// open. Most JSON bodies are read this way, at the speed of a few
// vectorized searches.
func (j *jsonState) clean(b []byte) bool {
	if j.pending || j.esc != 0 || j.inString && !j.long ||
		bytes.IndexByte(b, '\\') >= 0 || bytes.Contains(b, jsonOverride) {
		return false
	}
	quotes := bytes.Count(b, []byte{'"'})
	if quotes%2 == 1 {
		j.inString = !j.inString
	}
	if j.inString && quotes > 0 {
		// A string opened here and left open: its first bytes, to be
		// continued byte by byte (or too long already).
		j.key, j.long = j.key[:0], false
		for _, c := range b[bytes.LastIndexByte(b, '"')+1:] {
			j.keyByte(c)
		}
	}
	return true
}

// keyByte adds a decoded byte to the string being read, up to the length
// of an override name.
func (j *jsonState) keyByte(c byte) {
	if j.long {
		return
	}
	if len(j.key) == len("_method") {
		j.long = true
		return
	}
	j.key = append(j.key, c)
}
