package proxy

import (
	"context"
	"net/http"
	"time"
)

// A reload re-checks the requests that opened the tunnels still relayed
// (WebSocket upgrades): a tunnel is a request in flight for as long as it
// lasts, and one the new configuration would refuse (a policy that now
// denies its principal or path, a route gone, a client range denied) is
// closed, as Envoy drains the connections of a listener whose filters
// (Istio's RBAC among them) changed.

// recheckKey marks the context of a re-check; its value is the
// *recheckState the checks report to.
type recheckKey struct{}

// recheckState is what a re-check found: passed is set by the upstream
// step, which a re-check reaches only when every check passed;
// undecided by the JWT check when it could not verify the request's
// token for want of keys (the issuer's JWKS could not be fetched).
type recheckState struct {
	passed, undecided bool
	// upstream is where the request was forwarded (upstreamID); nil
	// when unknown.
	upstream *upstreamRef
	// kept is upstream as the reloaded configuration forwards it (its
	// SPIFFE bundle source, the one that stays open), once passed.
	kept *upstreamRef
}

// rechecking reports whether r is a re-check, which is not counted by
// the rate limit or the concurrency limit: those govern new requests.
func rechecking(r *http.Request) bool {
	_, ok := r.Context().Value(recheckKey{}).(*recheckState)
	return ok
}

// recheckUndecided marks r's re-check, if it is one, as undecided: a
// check could not be made (the JWT keys are unavailable), which is not
// a refusal of the request.
func recheckUndecided(r *http.Request) {
	if st, ok := r.Context().Value(recheckKey{}).(*recheckState); ok {
		st.undecided = true
	}
}

// withRecheckStop is the guard of the upstream step, to the upstream
// upstreamID names: a re-check that got this far passed every check, and
// is never forwarded; it passes if the request would still be forwarded
// where it was, verified as it was or with CAs only added (upstreamRef.
// keeps). (A tunnel or stream relayed on to an upstream the reloaded
// configuration no longer sends its requests to, or trusts otherwise,
// once passed.) A request that opens a tunnel notes where it
// goes.
func withRecheckStop(upstream *upstreamRef, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st, ok := r.Context().Value(recheckKey{}).(*recheckState); ok {
			st.passed = st.upstream == nil || upstream.keeps(st.upstream)
			if st.passed && st.upstream != nil && upstream.spiffe != nil {
				// Verified with the same CAs, to be checked against the
				// new source's bundle from now on.
				st.kept = &upstreamRef{where: upstream.where, roots: st.upstream.roots, spiffe: upstream.spiffe}
			}
			return
		}
		if r.Header.Get("Upgrade") != "" && !noteUpstream(r, upstream) {
			w.Header().Set("Retry-After", "0")
			deny(w, r, http.StatusServiceUnavailable, "reload", "the configuration was reloaded while the upgrade request was checked; not forwarded", "service unavailable")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recheckTimeout bounds a re-check (a JWT key fetch, say); one that does
// not finish in time refuses.
const recheckTimeout = 5 * time.Second

// admitsAgain reports whether p's checks pass r, the request that opened
// a tunnel (as the client sent it, without its body), and would forward
// it to upstream (upstreamID; nil: anywhere), and, when they do
// not, whether that is because a check could not be made (undecided: the
// JWT keys of the request's token are unavailable) rather than a refusal.
// kept, when not nil, is where it is forwarded now (withRecheckStop).
func (p *Proxy) admitsAgain(r *http.Request, upstream *upstreamRef) (passed, undecided bool, kept *upstreamRef) {
	st := &recheckState{upstream: upstream}
	defer func() {
		if recover() != nil {
			passed, undecided, kept = false, false, nil
		}
	}()
	ctx, cancel := context.WithTimeout(r.Context(), recheckTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, recheckKey{}, st)
	p.checked.ServeHTTP(discardResponse{}, r.WithContext(ctx))
	return st.passed, !st.passed && st.undecided, st.kept
}

// discardResponse is the ResponseWriter of a re-check.
type discardResponse struct{}

func (discardResponse) Header() http.Header         { return http.Header{} }
func (discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (discardResponse) WriteHeader(int)             {}
