package auditctx_test

import (
	"context"
	"fmt"

	"github.com/wardsec/ward/internal/auditctx"
)

// printer stands for audit's per-request state.
type printer struct{}

func (printer) Record(decision, rule, reason string, audited bool) {
	fmt.Println(decision, rule, reason, audited)
}

func Example() {
	// Without audit's Handler: nothing is recorded, nothing fails.
	auditctx.Deny(context.Background(), "ipallow", "client address not allowed")

	ctx := context.WithValue(context.Background(), auditctx.Key{}, auditctx.Recorder(printer{}))
	auditctx.Deny(ctx, "ipallow", "client address not allowed")
	// Output: deny ipallow client address not allowed false
}
