// Package reqstate is one per-request context that several middlewares
// fill in place, instead of each deriving a context (context.WithValue)
// and a copy of the request (http.Request.WithContext) for its value.
//
// The outermost middleware (the audit log's) creates a [Context] and
// passes one copy of the request on; a later middleware that owns a key
// stores its value with [Set], which answers ctx.Value(key) from then on
// for every context derived from that one, as context.WithValue at the
// Context's position would. A middleware finding no Context falls back
// to context.WithValue and a copy of the request, so each package keeps
// working alone.
//
// Values are set by the goroutine serving the request, before it passes
// the request on; they are not for values that change later (those need
// their own synchronisation, as the audit verdict has).
package reqstate

import "context"

// slots is how many values one Context holds; Set reports false past it.
const slots = 5

// Context is a context.Context carrying up to four values set in place.
// Its zero value is not usable: call Init.
type Context struct {
	context.Context
	n    int
	keys [slots]any
	vals [slots]any
}

type selfKey struct{}

// Init makes c a child of parent with no values; c is meant to live in
// a per-request allocation the caller already makes.
func (c *Context) Init(parent context.Context) {
	*c = Context{Context: parent}
}

// Value answers the keys set with Set, then asks the parent.
func (c *Context) Value(key any) any {
	if _, ok := key.(selfKey); ok {
		return c
	}
	for i := 0; i < c.n; i++ {
		if c.keys[i] == key {
			return c.vals[i]
		}
	}
	return c.Context.Value(key)
}

// Set stores val under key in the request state of ctx, replacing an
// earlier value of key. It reports false when ctx has no request state
// or the state is full: the caller then derives a context itself. key
// must be comparable, as for context.WithValue.
//
// A context.WithValue of the same key between the state and ctx would
// take precedence over a value Set later: only the middleware owning a
// key sets it, and it uses Set whenever it can.
func Set(ctx context.Context, key, val any) bool {
	c, ok := ctx.Value(selfKey{}).(*Context)
	if !ok {
		return false
	}
	for i := 0; i < c.n; i++ {
		if c.keys[i] == key {
			c.vals[i] = val
			return true
		}
	}
	if c.n == slots {
		return false
	}
	c.keys[c.n], c.vals[c.n] = key, val
	c.n++
	return true
}

// String names the context, as the standard library's do.
func (c *Context) String() string { return "reqstate.Context" }
