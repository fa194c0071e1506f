package jwt

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// Claims are the claims of a verified token. A Claims is read-only: its
// accessors return copies, so a Claims can be shared (the cache does).
type Claims struct {
	issuer, subject, id string
	audience            []string
	expiry              time.Time
	notBefore           time.Time // zero when absent
	issuedAt            time.Time // zero when absent
	all                 map[string]any

	shareOnce sync.Once
	shared    map[string]any // SharedMap's copy
}

// Issuer returns the "iss" claim.
func (c *Claims) Issuer() string { return c.issuer }

// Subject returns the "sub" claim ("" when absent).
func (c *Claims) Subject() string { return c.subject }

// ID returns the "jti" claim ("" when absent).
func (c *Claims) ID() string { return c.id }

// Audience returns the "aud" claim as a list (a single string is a list of
// one).
func (c *Claims) Audience() []string { return slices.Clone(c.audience) }

// Expiry returns the "exp" claim.
func (c *Claims) Expiry() time.Time { return c.expiry }

// NotBefore returns the "nbf" claim, the zero time when absent.
func (c *Claims) NotBefore() time.Time { return c.notBefore }

// IssuedAt returns the "iat" claim, the zero time when absent.
func (c *Claims) IssuedAt() time.Time { return c.issuedAt }

// RequestPrincipal returns the token's identity in Istio's format,
// iss + "/" + sub, as matched by AuthorizationPolicy requestPrincipals.
func (c *Claims) RequestPrincipal() string { return c.issuer + "/" + c.subject }

// Get returns the claim at path: Get("groups") is the top-level claim
// "groups", Get("realm_access", "roles") the claim "roles" of the object
// claim "realm_access" (Istio's request.auth.claims[realm_access][roles]).
// Claim names are never split on dots, because names such as
// "https://example.com/roles" contain them. Values are as encoding/json
// decodes them into an any (string, float64, bool, nil, []any,
// map[string]any); objects and arrays are returned as copies.
func (c *Claims) Get(path ...string) (any, bool) {
	if len(path) == 0 {
		return nil, false
	}
	var cur any = c.all
	for _, name := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[name]; !ok {
			return nil, false
		}
	}
	return deepCopy(cur), true
}

// SharedMap returns a copy of every claim, made once per Claims and shared
// by every caller: a verified token served from the cache hands the same
// map to each request, which saves Map's deep copy per request. Callers
// must only read it (as authz.Engine.Decide does); one that modifies it
// changes what later requests with the same token see. Use Map for a copy
// of one's own.
func (c *Claims) SharedMap() map[string]any {
	c.shareOnce.Do(func() { c.shared = c.Map() })
	return c.shared
}

// Map returns a copy of every claim of the token, for authorization rules
// that read claims by name (Istio's request.auth.claims[...]).
func (c *Claims) Map() map[string]any {
	m, _ := deepCopy(c.all).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// Strings returns the claim at path (as for Get) as a list of strings, the
// way Istio matches claims: a string is a list of one, an array must hold
// only strings. ok is false when the claim is absent or of another type.
func (c *Claims) Strings(path ...string) (values []string, ok bool) {
	v, ok := c.Get(path...)
	if !ok {
		return nil, false
	}
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// deepCopy copies the objects and arrays of a decoded JSON value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := maps.Clone(v)
		for k, e := range m {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := slices.Clone(v)
		for i, e := range s {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// parseClaims decodes a (not yet verified) payload and types the
// registered claims. Errors never quote the payload.
func parseClaims(payload []byte) (*Claims, error) {
	var all map[string]any
	if err := json.Unmarshal(payload, &all); err != nil || all == nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	c := &Claims{all: all}
	var err error
	str := func(name string, dst *string) {
		v, ok := all[name]
		if !ok || err != nil {
			return
		}
		s, isStr := v.(string)
		if !isStr {
			err = fmt.Errorf("%w: %s is not a string", ErrMalformed, name)
		}
		*dst = s
	}
	date := func(name string, dst *time.Time) {
		v, ok := all[name]
		if !ok || err != nil {
			return
		}
		f, isNum := v.(float64)
		if !isNum {
			err = fmt.Errorf("%w: %s is not a number", ErrMalformed, name)
			return
		}
		*dst = numericDate(f)
	}
	str("iss", &c.issuer)
	str("sub", &c.subject)
	str("jti", &c.id)
	date("exp", &c.expiry)
	date("nbf", &c.notBefore)
	date("iat", &c.issuedAt)
	if err != nil {
		return nil, err
	}
	switch aud := all["aud"].(type) {
	case nil:
		if _, present := all["aud"]; present {
			return nil, fmt.Errorf("%w: aud is null", ErrMalformed)
		}
	case string:
		c.audience = []string{aud}
	case []any:
		c.audience = make([]string, 0, len(aud))
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return nil, fmt.Errorf("%w: aud holds a non-string", ErrMalformed)
			}
			c.audience = append(c.audience, s)
		}
	default:
		return nil, fmt.Errorf("%w: aud is neither a string nor an array", ErrMalformed)
	}
	return c, nil
}

// Bounds of a NumericDate, years 1 and 9999: beyond them time.Unix
// arithmetic would overflow, and the result is the same (long expired,
// far future).
const (
	minNumericDate = -62135596800
	maxNumericDate = 253402300799
)

// numericDate converts seconds since the epoch (RFC 7519 NumericDate, may
// be fractional) to a time, clamped to years 1 to 9999. The lowest date
// would be time's zero value, which reads as "absent", so it moves up a
// nanosecond.
func numericDate(f float64) time.Time {
	switch {
	case math.IsNaN(f) || f < minNumericDate:
		f = minNumericDate
	case f > maxNumericDate:
		f = maxNumericDate
	}
	sec, frac := math.Modf(f)
	t := time.Unix(int64(sec), int64(frac*1e9)).UTC()
	if t.IsZero() {
		t = t.Add(time.Nanosecond)
	}
	return t
}

type contextKey struct{}

// NewContext returns a copy of ctx carrying c.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, contextKey{}, c)
}

// FromContext returns the claims Middleware.Handler stored for the
// request, or false for an anonymous request.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(contextKey{}).(*Claims)
	return c, ok && c != nil
}
