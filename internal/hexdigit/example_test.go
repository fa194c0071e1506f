package hexdigit_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/hexdigit"
)

func Example() {
	// Decode the escape "%2F".
	esc := "%2F"
	if hexdigit.Is(esc[1]) && hexdigit.Is(esc[2]) {
		fmt.Printf("%q\n", hexdigit.Value(esc[1])<<4|hexdigit.Value(esc[2]))
	}
	// Output: '/'
}
