package reqstate_test

import (
	"context"
	"fmt"

	"github.com/wardsec/ward/internal/reqstate"
)

type clientIPKey struct{}

func Example() {
	// The outermost middleware: one Context per request.
	var st reqstate.Context
	st.Init(context.Background())
	var ctx context.Context = &st

	// A later middleware stores its value in place, with no copy of the
	// request.
	if !reqstate.Set(ctx, clientIPKey{}, "203.0.113.7") {
		ctx = context.WithValue(ctx, clientIPKey{}, "203.0.113.7") // no Context: the usual way
	}
	derived, cancel := context.WithCancel(ctx)
	defer cancel()
	fmt.Println(derived.Value(clientIPKey{}))
	// Output: 203.0.113.7
}
