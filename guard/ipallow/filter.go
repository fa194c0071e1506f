package ipallow

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync/atomic"

	"github.com/wardsec/ward/guard/clientip"
	"github.com/wardsec/ward/internal/auditctx"
)

// ErrDenied is wrapped by the errors [Filter.Check] returns.
var ErrDenied = errors.New("ipallow: client address not allowed")

// Filter is net/http middleware that admits only requests whose client
// address its [List] allows. [Filter.SetList] and [Filter.SetDenyHandler]
// may be called at any time, concurrently with requests; a request sees
// one List, either the old or the new.
//
// The client address is the one clientip.Resolver.Handler stored in the
// request context; when that middleware did not run, it is the peer
// address from Request.RemoteAddr. A stored unknown address is denied and
// never replaced by the peer, which is then a trusted proxy. A Filter
// without a List (the zero Filter, or NewFilter(nil)) denies everything.
type Filter struct {
	list atomic.Pointer[List]
	deny atomic.Pointer[http.Handler]
}

// NewFilter returns a Filter using l.
func NewFilter(l *List) *Filter {
	f := new(Filter)
	f.list.Store(l)
	return f
}

// SetList replaces the List, for example after a configuration reload.
func (f *Filter) SetList(l *List) { f.list.Store(l) }

// SetDenyHandler sets the handler that answers denied requests; nil
// restores the default, a 403 with the body "Forbidden". The handler
// should not reveal why the request was denied.
func (f *Filter) SetDenyHandler(h http.Handler) {
	if h == nil {
		f.deny.Store(nil)
		return
	}
	f.deny.Store(&h)
}

// clientAddr is the address a request is judged by.
func clientAddr(r *http.Request) netip.Addr {
	if a, ok := clientip.FromContext(r.Context()); ok {
		return a
	}
	return clientip.PeerAddr(r)
}

// Check returns nil if the request's client address is allowed, and
// otherwise an error wrapping [ErrDenied] that names the address (for logs,
// not for the client). It does not allocate when the request is allowed.
func (f *Filter) Check(r *http.Request) error {
	a := clientAddr(r)
	if f.list.Load().Allowed(a) {
		return nil
	}
	if !a.IsValid() {
		return fmt.Errorf("%w: client address unknown", ErrDenied)
	}
	return fmt.Errorf("%w: %v", ErrDenied, a)
}

// Handler returns middleware that calls next for allowed requests and the
// deny handler for the others.
func (f *Filter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f.Check(r); err != nil {
			auditctx.Deny(r.Context(), "ipallow", err.Error())
			if h := f.deny.Load(); h != nil {
				(*h).ServeHTTP(w, r)
				return
			}
			forbidden(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// forbidden writes the default denial: no reason, no address.
func forbidden(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte("Forbidden\n"))
}
