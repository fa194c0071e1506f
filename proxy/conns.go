package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardsec/ward/guard/jwt"
)

// connSet tracks the listener's open connections, so that a reload can
// close those of peers the new configuration no longer admits, and so
// that connections over the maximum age can be closed.
type connSet struct {
	mu    sync.Mutex
	conns map[net.Conn]*connInfo
	// tunnels are connections hijacked for an upgrade (WebSocket) that
	// a handler is still relaying; http.Server no longer tracks them.
	tunnels map[net.Conn]*tunnelInfo
	// streams are long requests in flight (see longRequest): a
	// response streamed for as long as the route lets it.
	streams map[*streamInfo]struct{}
	// reaps counts the looks of reap done, for tests that must know a
	// look has happened after a change before they say nothing was cut.
	reaps atomic.Uint64
}

// streamInfo is a long request in flight: the request as the upstream
// step got it, and how to end it.
type streamInfo struct {
	req      *http.Request
	upstream *upstreamRef // where it was forwarded (upstreamID)
	cancel   func(outcome string)
	start    time.Time // of the request, for maxConnectionAge
}

// stream records r, a long request in flight to upstream, until the
// returned function is called; cancel ends it, with the audit outcome
// saying why.
func (s *connSet) stream(r *http.Request, upstream *upstreamRef, cancel func(outcome string)) func() {
	si := &streamInfo{req: r, upstream: upstream.opened(), cancel: cancel, start: time.Now()}
	s.mu.Lock()
	if s.streams == nil {
		s.streams = map[*streamInfo]struct{}{}
	}
	s.streams[si] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.streams, si)
		s.mu.Unlock()
	}
}

// connSetKey is the context key of the connSet a connection belongs to.
type connSetKey struct{}

// tunnelInfo is what a reload needs to know of a tunnel: its peer's
// state and the request that opened it (without its body), to be
// checked again.
type tunnelInfo struct {
	st    *peerState
	req   *http.Request
	start time.Time // of the connection, for maxConnectionAge
	fwd   *forwarded
}

// forwarded is what the checks and the upstream step learn of a tunnel's
// request as it goes through: its verified bearer token's expiry, and
// the upstream it was forwarded to. It is in the context of the
// request that opens a tunnel (forwardedKey).
type forwarded struct {
	exp      atomic.Int64 // Unix nanoseconds; 0 without a token
	upstream atomic.Pointer[upstreamRef]
}

type forwardedKey struct{}

// noteTokenExpiry records the expiry of r's verified bearer token for
// its tunnel, if r opens one (and is not a re-check).
func noteTokenExpiry(r *http.Request, exp time.Time) {
	if f, ok := r.Context().Value(forwardedKey{}).(*forwarded); ok && !rechecking(r) {
		f.exp.Store(exp.UnixNano())
	}
}

// noteUpstream records the upstream r is forwarded to, if r opens a
// tunnel, and reports false when it must not be forwarded: a reload
// re-checked it before it got here (reloadedUnforwarded).
func noteUpstream(r *http.Request, upstream *upstreamRef) bool {
	if f, ok := r.Context().Value(forwardedKey{}).(*forwarded); ok {
		return f.upstream.CompareAndSwap(nil, upstream.opened())
	}
	return true
}

// reloadedUnforwarded is the upstream of a tunnel whose request a reload
// re-checked while it was still in the checks of the configuration it
// started on, not yet forwarded: the re-check could judge its policies,
// not where it would go, and it went on to the upstream of the old
// configuration, one the reload had moved away from or stopped
// trusting, for as long as the tunnel lasted. It is refused at the
// upstream step instead (TestAttackReloadWhileUpgradeChecked).
var reloadedUnforwarded = &upstreamRef{where: "(re-checked by a reload before it was forwarded)"}

// tokenClockAhead moves the clock tunnels' bearer tokens are checked
// with ahead, in nanoseconds (for tests).
var tokenClockAhead atomic.Int64

// tokenExpired reports whether a tunnel's bearer token (from
// noteTokenExpiry) has expired, allowing the JWT check's clock skew.
func tokenExpired(f *forwarded) bool {
	e := f.exp.Load()
	return e != 0 && expiredAt(time.Unix(0, e))
}

// expiredAt reports whether a bearer token expiring at exp has expired,
// allowing the JWT check's clock skew.
func expiredAt(exp time.Time) bool {
	return time.Now().Add(time.Duration(tokenClockAhead.Load())).After(exp.Add(jwt.DefaultClockSkew))
}

// tunnel records r's connection as an upgraded tunnel until the returned
// function is called (when the handler relaying it returns); fwd is
// what the checks note of it on the way.
func (s *connSet) tunnel(r *http.Request, fwd *forwarded) func() {
	c, ok := r.Context().Value(connKey{}).(net.Conn)
	if !ok {
		return func() {}
	}
	req := r.Clone(r.Context())
	req.Body, req.ContentLength, req.GetBody = http.NoBody, 0, nil
	s.mu.Lock()
	if s.tunnels == nil {
		s.tunnels = map[net.Conn]*tunnelInfo{}
	}
	start := time.Now()
	if ci, ok := s.conns[c]; ok {
		start = ci.start
	}
	s.tunnels[c] = &tunnelInfo{st: peerStateOf(r.Context()), req: req, start: start, fwd: fwd}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.tunnels, c)
		s.mu.Unlock()
	}
}

type connInfo struct {
	start time.Time
	state http.ConnState
}

type connKey struct{}

// connContext stores the connection, its peerState, its streamCount
// and s in its requests' context.
func (s *connSet) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(context.WithValue(connOnly(ctx, c, &peerState{}), connSetKey{}, s), streamCountKey{}, &streamCount{})
}

// connOnly returns ctx with the connection c and its peer state.
func connOnly(ctx context.Context, c net.Conn, st *peerState) context.Context {
	return context.WithValue(context.WithValue(ctx, connKey{}, c), peerStateKey{}, st)
}

// track is the http.Server's ConnState hook.
func (s *connSet) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		if s.conns == nil {
			s.conns = map[net.Conn]*connInfo{}
		}
		s.conns[c] = &connInfo{start: time.Now(), state: st}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	default:
		if ci, ok := s.conns[c]; ok {
			ci.state = st
		}
	}
}

// age returns how long r's connection has been open (0 when unknown).
func (s *connSet) age(r *http.Request) time.Duration {
	c, ok := r.Context().Value(connKey{}).(net.Conn)
	if !ok {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ci, ok := s.conns[c]; ok {
		return time.Since(ci.start)
	}
	return 0
}

// closeRevoked closes the TLS connections whose peer p does not admit,
// busy or idle, and returns how many it closed. Connections that have not
// yet sent a request (perhaps still in their handshake, whose state
// cannot be read without waiting for it) are left to the per-request
// check, which refuses a peer no longer admitted.
func (s *connSet) closeRevoked(p *Proxy) int {
	s.mu.Lock()
	var served []*tls.Conn
	for c, ci := range s.conns {
		if tc, ok := c.(*tls.Conn); ok && (ci.state == http.StateActive || ci.state == http.StateIdle) {
			served = append(served, tc)
		}
	}
	for c := range s.tunnels {
		if tc, ok := c.(*tls.Conn); ok {
			served = append(served, tc)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, tc := range served {
		if cs := tc.ConnectionState(); cs.HandshakeComplete && !p.admits(cs) {
			closeTunnel(tc)
			n++
		}
	}
	return n
}

// closeRefused closes the tunnels, and ends the long requests in flight,
// whose request p's checks refuse (admitsAgain), and returns how many it
// closed. A request whose bearer token p cannot verify yet (its issuer's
// JWT keys could not be fetched) is left open and counted in undecided,
// with the error: its token would be refused for want of keys, not on
// its merits. Every other request is decided all the same: one without
// a token, or refused by a check that needs no keys, used to stay open
// after any reload made while an issuer's JWKS was unreachable.
func (s *connSet) closeRefused(p *Proxy) (closed, undecided int, err error) {
	type tunnel struct {
		close    func()
		req      *http.Request
		upstream *upstreamRef
		kept     func(*upstreamRef) // notes where it is now forwarded, once passed
	}
	s.mu.Lock()
	var open []tunnel
	for c, ti := range s.tunnels {
		up := ti.fwd.upstream.Load()
		if up == nil && ti.fwd.upstream.CompareAndSwap(nil, reloadedUnforwarded) || up == reloadedUnforwarded {
			up = nil // judged on its policies; refused at the upstream step
		} else if up == nil {
			up = ti.fwd.upstream.Load() // forwarded meanwhile
		}
		open = append(open, tunnel{func() { closeTunnel(c) }, ti.req, up, func(u *upstreamRef) { ti.fwd.upstream.Store(u) }})
	}
	for si := range s.streams {
		// The request as the upstream step got it, with a context of
		// its connection only: not the one its audit record is filed
		// under.
		ctx := context.Background()
		if c, ok := si.req.Context().Value(connKey{}).(net.Conn); ok {
			ctx = connOnly(ctx, c, peerStateOf(si.req.Context()))
		}
		req := si.req.Clone(ctx)
		req.Body, req.ContentLength, req.GetBody = http.NoBody, 0, nil
		open = append(open, tunnel{func() { si.cancel(outcomeRefusedOnReload) }, req, si.upstream, func(u *upstreamRef) {
			s.mu.Lock()
			si.upstream = u
			s.mu.Unlock()
		}})
	}
	s.mu.Unlock()
	if len(open) == 0 {
		return 0, 0, nil
	}
	// Fetch the keys first, so that the re-checks of tokens can be made.
	ctx, cancel := context.WithTimeout(context.Background(), recheckTimeout)
	defer cancel()
	ready := p.Ready(ctx)
	for _, t := range open {
		switch passed, unsure, kept := p.admitsAgain(t.req, t.upstream); {
		case passed:
			if kept != nil {
				t.kept(kept)
			}
		case unsure:
			undecided++
		default:
			t.close()
			closed++
		}
	}
	if undecided > 0 {
		err = ready
		if err == nil {
			err = errors.New("JWT keys unavailable")
		}
	}
	return closed, undecided, err
}

// closeTunnel closes a tunnel's connection, or one a check cut, its
// socket first, so that not one more byte moves either way once the
// decision is taken: a TLS connection's Close sends close_notify before
// closing the socket, with a 5 s write deadline when the client does not
// read, and a client that wrote on seeing it had its bytes read by the
// relay in between and forwarded to the upstream the tunnel was closed
// for. Every cut of a tunnel (a reload's re-check, a peer no longer
// admitted or trusted, maxConnectionAge, a token's or certificate's
// expiry, its upstream's trust bundle) closes this way
// (TestAttackTunnelCutSocketFirst).
func closeTunnel(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		_ = tc.NetConn().Close()
	}
	_ = c.Close()
}

// reapOld closes idle connections older than maxAge(), and tunnels older
// than that, whose bearer token has expired, or whose peer certificate
// has expired or no longer verifies against cur()'s trust bundle, every
// 100 ms until ctx ends; busy
// connections close after their response (ServeHTTP), those of an
// expired peer at their next request.
func (s *connSet) reapOld(ctx context.Context, maxAge func() time.Duration, cur func() *Proxy) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.reap(maxAge(), cur)
	}
}

// reap is one look of reapOld, with the maximum age limit (0: none).
func (s *connSet) reap(limit time.Duration, cur func() *Proxy) {
	var old []net.Conn // idle connections: closed as TLS closes them
	var cut []net.Conn // tunnels: closed socket first (closeTunnel)
	s.mu.Lock()
	for c, ci := range s.conns {
		if limit > 0 && ci.state == http.StateIdle && time.Since(ci.start) > limit {
			old = append(old, c)
		}
	}
	// A tunnel (WebSocket) gets no further request to be refused
	// on: it is closed once its peer's certificate has expired.
	type tunnel struct {
		c  *tls.Conn
		st *peerState
	}
	var tunnels []tunnel
	type relayed struct {
		ref  *upstreamRef
		stop func()
	}
	var spiffeUp []relayed // to an upstream verified with SPIFFE
	for c, ti := range s.tunnels {
		// A tunnel's response was its 101: after it, the
		// connection is as old as any other. (It was never closed
		// for its age: a WebSocket outlived maxConnectionAge.)
		if limit > 0 && time.Since(ti.start) > limit {
			cut = append(cut, c)
			continue
		}
		// Nor its bearer token's: the token was verified once, at
		// the upgrade, and a tunnel relayed for as long as it
		// lasted on a token that had expired.
		if tokenExpired(ti.fwd) {
			cut = append(cut, c)
			continue
		}
		// Nor its upstream's trust bundle, which its file source
		// reloads when the file changes: a CA removed from it kept
		// the tunnels it had verified running.
		if ref := ti.fwd.upstream.Load(); ref != nil && ref.spiffe != nil {
			spiffeUp = append(spiffeUp, relayed{ref, func() { closeTunnel(c) }})
		}
		if tc, ok := c.(*tls.Conn); ok {
			tunnels = append(tunnels, tunnel{tc, ti.st})
		}
	}
	type ended struct {
		si      *streamInfo
		outcome string
	}
	var streamsEnded []ended
	for si := range s.streams {
		// A long request (a stream of server-sent events) kept its
		// connection past maxConnectionAge for as long as the upstream
		// streamed, its response never ending
		// (TestAttackStreamOutlivesMaxConnectionAge). It is ended once
		// it is itself that old, not when its connection is: a
		// download or long poll that started just before its
		// connection's limit was cut within 100 ms, where it used to
		// finish with the connection closed after it
		// (TestMaxConnectionAgeLetsRequestsFinish). A connection so
		// lives at most twice the limit.
		if limit > 0 && time.Since(si.start) > limit {
			streamsEnded = append(streamsEnded, ended{si, outcomeMaxConnectionAge})
			continue
		}
		// Its bearer token was checked once, at the request: the
		// stream went on after it expired, until a reload
		// (TestAttackStreamOutlivesToken).
		if c, ok := jwt.FromContext(si.req.Context()); ok && expiredAt(c.Expiry()) {
			streamsEnded = append(streamsEnded, ended{si, outcomeTokenExpired})
			continue
		}
		if ref := si.upstream; ref != nil && ref.spiffe != nil {
			spiffeUp = append(spiffeUp, relayed{ref, func() { si.cancel(outcomeUpstreamUntrusted) }})
		}
	}
	s.mu.Unlock()
	for _, e := range streamsEnded {
		e.si.cancel(e.outcome)
	}
	// Outside mu: the source may read its files. The tunnels opened
	// under one bundle share its CA sums (spiffeTrust.roots): the
	// bundle is looked up once per source and the verdict made once per
	// bundle they were opened with, not per tunnel
	// (BenchmarkReapSPIFFETunnels).
	type opened struct {
		trust *spiffeTrust
		roots uintptr // the identity of the tunnel's CA sums
	}
	type verdict struct{ kept, sure bool }
	verdicts := map[opened]verdict{}
	for _, t := range spiffeUp {
		k := opened{t.ref.spiffe, reflect.ValueOf(t.ref.roots).Pointer()}
		v, ok := verdicts[k]
		if !ok {
			v.kept, v.sure = t.ref.bundleKept(t.ref)
			verdicts[k] = v
		}
		if v.sure && !v.kept {
			t.stop()
		}
	}
	p := cur()
	for _, t := range tunnels {
		if cs := t.c.ConnectionState(); peerExpired(&cs) || !p.chainTrusted(&cs, t.st) {
			cut = append(cut, t.c)
		}
	}
	for _, c := range cut {
		closeTunnel(c)
	}
	for _, c := range old {
		_ = c.Close()
	}
	s.reaps.Add(1)
}
