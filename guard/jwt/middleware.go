package jwt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/wardsec/ward/internal/auditctx"
	"github.com/wardsec/ward/internal/reqstate"
)

// Middleware authenticates HTTP requests by the bearer token of their
// Authorization header (RFC 6750), modelled on net/http's
// CrossOriginProtection: Check is the decision, Handler applies it. It is
// safe for concurrent use, including its setters.
//
// Security trade-offs: a request without a bearer token is anonymous and
// passes, as in Istio, unless SetRequired(true); authorization rules must
// then require a principal where one is needed. A request with more than
// one Authorization header, or with a bearer token that fails
// verification, never passes. The token is read from the header only,
// never from the URL query (RFC 6750 section 2.3 discourages it: URLs are
// logged); other schemes (Basic, ...) count as no bearer token, but a
// "Bearer" scheme followed by a tab, a Unicode space (U+00A0, ...) or
// other non-token text is refused, never taken as anonymous. The
// Authorization header is passed on to next unchanged: a proxy that must
// not forward the token removes it itself.
type Middleware struct {
	v        *Verifier
	required atomic.Bool
	deny     atomic.Pointer[http.Handler]
}

// NewMiddleware returns a Middleware that verifies tokens with v and lets
// anonymous requests through.
func NewMiddleware(v *Verifier) *Middleware { return &Middleware{v: v} }

// SetRequired sets whether a request without a bearer token is refused
// (with ErrMissingToken) rather than passed on as anonymous.
func (m *Middleware) SetRequired(required bool) { m.required.Store(required) }

// SetDenyHandler sets the handler for refused requests; nil restores the
// default, a bare 401 with a WWW-Authenticate challenge. The handler finds
// the reason with ErrorFromContext.
func (m *Middleware) SetDenyHandler(h http.Handler) {
	if h == nil {
		m.deny.Store(nil)
		return
	}
	m.deny.Store(&h)
}

// Check reports whether r may pass: nil for a valid bearer token, and for
// no token at all unless one is required. It does not modify r.
func (m *Middleware) Check(r *http.Request) error {
	_, err := m.Authenticate(r)
	return err
}

// Authenticate is Check that also returns the token's claims: nil claims
// and a nil error mean an anonymous request.
func (m *Middleware) Authenticate(r *http.Request) (*Claims, error) {
	token, present, err := m.bearerToken(r)
	switch {
	case err != nil:
		return nil, err
	case !present && m.required.Load():
		return nil, ErrMissingToken
	case !present:
		return nil, nil
	}
	return m.v.Verify(r.Context(), token)
}

// Handler returns a handler that serves requests passing Check with next,
// on a copy of the request whose context carries the claims (see
// FromContext), or with the claims set in place in the request state of
// its context (reqstate.Context, the audit log's) when it has one, and
// refuses the others with the deny handler.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := m.Authenticate(r)
		if err != nil {
			// Errors never hold the token or text taken from it.
			auditctx.Deny(r.Context(), "jwt", "bearer token: "+err.Error())
			if h := m.deny.Load(); h != nil {
				(*h).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), errorKey{}, err)))
				return
			}
			unauthorized(w, err)
			return
		}
		if c != nil && !reqstate.Set(r.Context(), contextKey{}, c) {
			r = r.WithContext(NewContext(r.Context(), c))
		}
		next.ServeHTTP(w, r)
	})
}

// unauthorized writes the default refusal: the RFC 6750 challenge and
// nothing that tells the client why, beyond "missing" or "invalid".
func unauthorized(w http.ResponseWriter, err error) {
	h := w.Header()
	if errors.Is(err, ErrMissingToken) {
		h.Set("WWW-Authenticate", "Bearer")
	} else {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	h.Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}

type errorKey struct{}

// ErrorFromContext returns why Middleware refused the request, in a deny
// handler's request context.
func ErrorFromContext(ctx context.Context) error {
	err, _ := ctx.Value(errorKey{}).(error)
	return err
}

// bearerToken extracts the token of a single "Authorization: Bearer"
// header; present is false when the request carries no bearer credential.
func (m *Middleware) bearerToken(r *http.Request) (token string, present bool, err error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", true, fmt.Errorf("%w: more than one Authorization header", ErrMalformed)
	}
	// The scheme is the token (RFC 9110 tchar run) the value starts
	// with: "Bearer<TAB>token" and "Bearer<NBSP>token" are malformed
	// bearer credentials, not other schemes, since an application
	// splitting the header at any white space (strings.Fields, which
	// knows Unicode spaces; net/http accepts non-ASCII bytes) would read
	// their unverified token.
	v := values[0]
	i := schemeLen(v)
	if !strings.EqualFold(v[:i], "Bearer") {
		return "", false, nil
	}
	token = strings.Trim(v[i:], " ")
	if len(token) > m.v.maxTokenSize {
		return "", true, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, m.v.maxTokenSize)
	}
	if token == "" || !isToken68(token) {
		return "", true, fmt.Errorf("%w: bad Authorization header", ErrMalformed)
	}
	return token, true, nil
}

// schemeLen is the length of the RFC 9110 token that s starts with.
func schemeLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return i
		}
	}
	return len(s)
}

// isToken68 reports whether s is an RFC 9110 token68.
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
