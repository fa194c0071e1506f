package gcbudget_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/gcbudget"
)

// A program starts the budget first thing; the limit then follows its
// live heap: 2 GiB until the live heap passes 1.25 GiB, 1.6 times it after.
func Example() {
	stop := gcbudget.Start()
	defer stop()
	for _, live := range []uint64{100 << 20, 1 << 30, 2 << 30} {
		fmt.Printf("live %4d MiB: limit %4d MiB\n", live>>20, gcbudget.Limit(live, gcbudget.Base, gcbudget.Ratio)>>20)
	}
	// Output:
	// live  100 MiB: limit 2048 MiB
	// live 1024 MiB: limit 2048 MiB
	// live 2048 MiB: limit 3276 MiB
}
