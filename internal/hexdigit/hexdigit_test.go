package hexdigit

import "testing"

// TestValue: every digit in either case, and the values the three
// copies this package replaced agreed on.
func TestValue(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		want := -1
		switch {
		case '0' <= b && b <= '9':
			want = c - '0'
		case 'a' <= b && b <= 'f':
			want = c - 'a' + 10
		case 'A' <= b && b <= 'F':
			want = c - 'A' + 10
		}
		if Is(b) != (want >= 0) {
			t.Errorf("Is(%q) = %v", b, Is(b))
		}
		if want >= 0 && int(Value(b)) != want {
			t.Errorf("Value(%q) = %d, want %d", b, Value(b), want)
		}
	}
	// guard/authz reads a non-digit after "%" before refusing it
	// ('%' - '0' wraps to 0xf5).
	if Value('g') != 16 || Value('G') != 16 || Value('%') != byte(0xf5) {
		t.Errorf("non-digits: %d %d %d", Value('g'), Value('G'), Value('%'))
	}
}
