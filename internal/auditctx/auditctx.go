// Package auditctx lets guard's middlewares record their decision in the
// audit log's per-request state without importing package audit (and
// with it the Prometheus client): audit's Handler stores a Recorder
// under Key, and each deciding middleware's Handler calls Deny, or
// Record on the Recorder that From returns (authz, which records allowing
// decisions too). Without audit's Handler in front, there is no Recorder
// and Deny does nothing.
package auditctx

import "context"

// Key is the context key under which audit's Handler stores the
// request's Recorder.
type Key struct{}

// Recorder receives a middleware's decision: Decision "allow" or "deny",
// Rule a stable label ("ipallow", "authz/<namespace>/<name>"), Reason
// for people; audited reports that an AUDIT policy matched.
type Recorder interface {
	Record(decision, rule, reason string, audited bool)
}

// From returns the request's Recorder, nil without audit's Handler.
func From(ctx context.Context) Recorder {
	r, _ := ctx.Value(Key{}).(Recorder)
	return r
}

// Deny records a refusal. audit keeps a denial over any later allow.
func Deny(ctx context.Context, rule, reason string) {
	if r := From(ctx); r != nil {
		r.Record("deny", rule, reason, false)
	}
}
