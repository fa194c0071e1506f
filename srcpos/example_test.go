package srcpos_test

import (
	"errors"
	"fmt"

	"github.com/wardsec/ward/srcpos"
)

func Example() {
	err := fmt.Errorf("loading: %w", srcpos.At("policies.yaml", 12, "unknown field %q", "podSelecter"))
	var pe *srcpos.Error
	if errors.As(err, &pe) {
		fmt.Println(pe.File, pe.Line)
	}
	fmt.Println(err)
	// Output:
	// policies.yaml 12
	// loading: policies.yaml:12: unknown field "podSelecter"
}
