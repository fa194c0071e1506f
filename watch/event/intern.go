package event

// Interner returns one string for equal byte sequences, so that sources
// fill Event's string fields without allocating for values seen before
// (namespaces, pod names, nodes, reasons: few distinct values, repeated in
// every record). It holds at most a fixed number of strings and bytes:
// input that names ever new values (an attacker's, or a corrupt file)
// costs an allocation per value, never unbounded memory.
//
// An Interner is not safe for concurrent use; each source owns one.
type Interner struct {
	m        map[string]string
	maxLen   int
	maxCount int
}

// NewInterner returns an Interner keeping up to maxCount strings of up to
// maxLen bytes each.
func NewInterner(maxCount, maxLen int) *Interner {
	return &Interner{m: make(map[string]string), maxLen: maxLen, maxCount: maxCount}
}

// Intern returns b as a string, shared with earlier equal values.
func (in *Interner) Intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in.m[string(b)]; ok { // no allocation: the compiler looks up without converting
		return s
	}
	s := string(b)
	if len(b) <= in.maxLen && len(in.m) < in.maxCount {
		in.m[s] = s
	}
	return s
}

// Len is the number of strings held.
func (in *Interner) Len() int { return len(in.m) }
