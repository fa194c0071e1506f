package peerctx_test

import (
	"context"
	"fmt"

	"github.com/wardsec/ward/internal/peerctx"
)

func Example() {
	// spiffeauth found the peer's certificate unverified.
	ctx := context.WithValue(context.Background(), peerctx.Key{}, peerctx.Unverified{})

	// authz: no identity, and not for want of a middleware.
	_, unverified := ctx.Value(peerctx.Key{}).(peerctx.Unverified)
	fmt.Println(unverified)
	// Output: true
}
