package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wardsec/ward/guard/audit"
)

// idleConn is an upstream connection that fails a read once no byte has
// moved in either direction for idle: the stream idle timeout of an
// exchange and of an upgraded (WebSocket) connection, which the route
// timeout exempts. A connection idle in the pool closes the same way.
//
// The read deadline armed is last+idle as of when it was set, so never
// later than the timeout requires (last only grows); it is set again only
// once it has fallen idle/2 behind, or has fired while bytes still moved,
// instead of on every read: setting a deadline moves a runtime timer, and
// a read per response made that a measurable share of the proxy's cost.
type idleConn struct {
	net.Conn
	idle  time.Duration
	last  atomic.Int64 // unix nanoseconds of the last byte moved
	armed atomic.Int64 // the read deadline set, unix nanoseconds; 0: none
}

func (c *idleConn) touch() { c.last.Store(time.Now().UnixNano()) }

func (c *idleConn) Read(p []byte) (int, error) {
	for {
		if want := c.last.Load() + int64(c.idle); c.armed.Load() == 0 || want-c.armed.Load() > int64(c.idle/2) {
			_ = c.Conn.SetReadDeadline(time.Unix(0, want))
			c.armed.Store(want)
		}
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.touch()
		}
		var ne net.Error
		if err != nil && n == 0 && errors.As(err, &ne) && ne.Timeout() &&
			time.Since(time.Unix(0, c.last.Load())) < c.idle {
			c.armed.Store(0) // fired early: the other direction moved meanwhile
			continue
		}
		return n, err
	}
}

// SetReadDeadline and SetDeadline (a TLS handshake's, say) replace the
// deadline armed: the next Read arms the idle one again.
func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.armed.Store(0)
	return c.Conn.SetReadDeadline(t)
}

func (c *idleConn) SetDeadline(t time.Time) error {
	c.armed.Store(0)
	return c.Conn.SetDeadline(t)
}

func (c *idleConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.touch()
	}
	return n, err
}

// dialIdle wraps a dialer's connections in idleConn.
func dialIdle(d *net.Dialer, idle time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || idle <= 0 {
			return c, err
		}
		ic := &idleConn{Conn: c, idle: idle}
		ic.touch()
		return ic, nil
	}
}

// bodyRateGrace is how long a request body may take before the minimum
// rate applies (a variable for tests).
var bodyRateGrace = 5 * time.Second

// errSlowBody is a request body sent slower than the minimum rate.
var errSlowBody = errors.New("request body slower than the minimum rate")

// slowBody marks, for the error handler, a request whose body was cut
// for being too slow.
// slowBody records how reading a request body ended: hit when the
// minimum rate cut it off, failed when the client's side failed
// otherwise (an HTTP/2 stream reset, more DATA than its Content-Length,
// a connection gone), so that the error the transport returns for it is
// not taken for the upstream's.
type slowBody struct{ hit, failed atomic.Bool }

type slowBodyKey struct{}

// rateBody enforces a minimum body rate: byte n must have arrived by
// start + grace + n/rate. It sets the connection's read deadline
// accordingly (through http.ResponseController), so that a client that
// stops sending is cut off even while a read waits.
type rateBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	rate  float64
	n     int64
	flag  *slowBody
	done  bool
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	due := b.start.Add(bodyRateGrace + time.Duration(float64(b.n)/b.rate*float64(time.Second)))
	_ = b.rc.SetReadDeadline(due)
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		b.flag.hit.Store(true)
		return n, errSlowBody
	}
	if err != nil && err != io.EOF {
		b.flag.failed.Store(true)
	}
	return n, err
}

// withUpstreamTimeouts bounds an exchange with the route timeout and the
// request body with the minimum rate. An upgrade (WebSocket) has the
// route timeout until the upstream switches protocols (upgraded, see
// switchedProtocols), then the idle timeout only: a request that merely
// carries an Upgrade header, answered as a plain exchange, is bounded
// like any other.
// longRequest is the route timeout past which a request in flight is
// checked again on a reload (with none, too): shorter ones finish on the
// configuration they started with.
const longRequest = time.Minute

// The audit outcomes of a long request a check ended in flight
// (streamInfo.cancel): a reload refused it, its connection is over
// timeouts.maxConnectionAge, its bearer token expired, its upstream's
// trust bundle no longer holds a CA it could have been verified with.
const (
	outcomeRefusedOnReload   = "refused after reload"
	outcomeMaxConnectionAge  = "connection over maxConnectionAge"
	outcomeTokenExpired      = "bearer token expired" // #nosec G101 -- an audit outcome, not a credential
	outcomeUpstreamUntrusted = "upstream no longer trusted"
)

// streamEndKey marks the context of a long request; its value, an
// *atomic.Pointer[string], is set to the outcome of the check that ended
// it.
type streamEndKey struct{}

// streamEnded returns the outcome of the check that ended r's exchange,
// or "".
func streamEnded(ctx context.Context) string {
	if f, ok := ctx.Value(streamEndKey{}).(*atomic.Pointer[string]); ok {
		if o := f.Load(); o != nil {
			return *o
		}
	}
	return ""
}

func withUpstreamTimeouts(total time.Duration, minRate int64, upstream *upstreamRef, retired *atomic.Bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		completed := false
		if total > 0 {
			var cancel context.CancelFunc
			var ut *upgradeTimer
			if r.Header.Get("Upgrade") == "" {
				ctx, cancel = context.WithTimeout(ctx, total)
			} else {
				ctx, cancel = context.WithCancel(ctx)
				ut = &upgradeTimer{}
				ut.t = time.AfterFunc(total, func() { ut.fired.Store(true); cancel() })
				defer ut.t.Stop()
				ctx = context.WithValue(ctx, upgradeTimerKey{}, ut)
			}
			defer cancel()
			// A response cut off mid-body by the route timeout unwinds
			// with http.ErrAbortHandler; its audit record says why.
			defer func() {
				if !completed && routeTimedOut(ctx) && r.Context().Err() == nil {
					audit.Set(ctx, audit.Verdict{Outcome: "upstream timeout"})
				}
			}()
		}
		if (total <= 0 || total > longRequest) && r.Header.Get("Upgrade") == "" {
			// A request that may stream for long (server-sent events
			// on a route without a timeout) is checked again on a
			// reload, as tunnels are (tracked by the server).
			if set, ok := ctx.Value(connSetKey{}).(*connSet); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				ended := &atomic.Pointer[string]{}
				ctx = context.WithValue(ctx, streamEndKey{}, ended)
				// A copy for the closure, which escapes: capturing ctx
				// itself would move it to the heap for every request.
				sctx := ctx
				defer set.stream(r, upstream, func(outcome string) {
					if ended.CompareAndSwap(nil, &outcome) {
						audit.Set(sctx, audit.Verdict{Outcome: outcome})
					}
					cancel()
				})()
				// Tracked from now on, so that a reload re-checks it;
				// one that came while it was in the checks of this
				// configuration did not (Server.Reload retires the
				// Proxy before it re-checks the streams), and it would
				// stream from where this configuration says
				// (TestAttackReloadWhileStreamChecked).
				if retired != nil && retired.Load() {
					w.Header().Set("Retry-After", "0")
					deny(w, r, http.StatusServiceUnavailable, "reload", "the configuration was reloaded while the request was checked; not forwarded", "service unavailable")
					return
				}
			}
		}
		var flag *slowBody
		if minRate > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 && r.Context().Value(slowBodyKey{}) == nil {
			// (withBodyRate put it in front of the WAF already.)
			flag = &slowBody{}
			ctx = context.WithValue(ctx, slowBodyKey{}, flag)
		}
		out := r
		if ctx != r.Context() {
			out = r.WithContext(ctx) // one copy of the request, for both
		}
		if flag != nil {
			out.Body = &rateBody{ReadCloser: r.Body, rc: http.NewResponseController(w), start: time.Now(), rate: float64(minRate), flag: flag}
		}
		next.ServeHTTP(w, out)
		completed = true
	})
}

// withBodyRate enforces the minimum body rate (rateBody) on the body
// that next reads: the WAF's, which reads a body whole before the
// upstream step, where the rate is enforced otherwise. Without it a body
// sent a byte a second held its request (and a concurrency slot) for
// the listener's whole read timeout, not bodyRateGrace.
func withBodyRate(minRate int64, next http.Handler) http.Handler {
	if minRate <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		flag := &slowBody{}
		out := r.WithContext(context.WithValue(r.Context(), slowBodyKey{}, flag))
		out.Body = &rateBody{ReadCloser: r.Body, rc: http.NewResponseController(w), start: time.Now(), rate: float64(minRate), flag: flag}
		next.ServeHTTP(w, out)
	})
}

// upgradeTimer is the route timeout of an upgrade request, stopped when
// the upstream switches protocols.
type upgradeTimer struct {
	t     *time.Timer
	fired atomic.Bool
}

type upgradeTimerKey struct{}

// switchedProtocols is the upstream's ModifyResponse: a 101 answer to an
// upgrade request stops its route timeout (the tunnel has the idle
// timeout only) and gives back its concurrency slot.
func switchedProtocols(res *http.Response) error {
	if res.StatusCode == http.StatusSwitchingProtocols {
		// ReverseProxy writes the 101 past hintsWriter's keepOwn: the
		// upstream's fields of the proxy's own names go here (the proxy
		// set them all, HSTS but on plain HTTP, where it means nothing).
		for _, k := range ownResponseHeaders {
			delete(res.Header, k)
		}
	}
	if res.StatusCode == http.StatusSwitchingProtocols && res.Request != nil {
		if ut, ok := res.Request.Context().Value(upgradeTimerKey{}).(*upgradeTimer); ok {
			ut.t.Stop()
		}
		// ReverseProxy writes the 101 on the hijacked connection, past
		// hintsWriter: the tunnel gives its concurrency slot back here.
		if s, ok := res.Request.Context().Value(concurrencySlotKey{}).(*concurrencySlot); ok {
			s.release()
		}
	}
	return nil
}

// routeTimedOut reports whether the route timeout of ctx's exchange has
// passed.
func routeTimedOut(ctx context.Context) bool {
	if ut, ok := ctx.Value(upgradeTimerKey{}).(*upgradeTimer); ok && ut.fired.Load() {
		return true
	}
	return errors.Is(ctx.Err(), context.DeadlineExceeded)
}

// bodyTooSlow reports whether r's body was cut for being too slow.
// bodyFailed reports whether reading r's body from the client failed
// (not by the minimum rate).
func bodyFailed(r *http.Request) bool {
	f, ok := r.Context().Value(slowBodyKey{}).(*slowBody)
	return ok && f.failed.Load()
}

func bodyTooSlow(r *http.Request) bool {
	f, ok := r.Context().Value(slowBodyKey{}).(*slowBody)
	return ok && f.hit.Load()
}

// isTimeout reports a deadline or timeout error.
func isTimeoutErr(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
