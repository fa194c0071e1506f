package clientip

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Header names a forwarding header a [Resolver] can read.
type Header string

// The forwarding headers a Resolver understands.
const (
	// XForwardedFor is the de facto standard list of addresses, one per
	// hop, comma separated, appended to by each proxy.
	XForwardedFor Header = "X-Forwarded-For"
	// Forwarded is the RFC 7239 header; the resolver reads the for=
	// parameter of each element.
	Forwarded Header = "Forwarded"
)

// ErrConfig is wrapped by the errors [New] returns for a bad configuration.
var ErrConfig = errors.New("clientip: invalid configuration")

// A Resolver determines the client address of requests. It is immutable
// after [New] and safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix // canonical: masked, IPv4-mapped ones as IPv4
	headers []Header       // in order of preference, at least one
}

// An Option configures a Resolver.
type Option func(*Resolver) error

// WithHeaders sets the forwarding headers to read, in order of preference:
// the first one present in a request is used, the others are ignored. The
// default is X-Forwarded-For alone. See the package documentation for why
// listing more than one header is risky.
func WithHeaders(hs ...Header) Option {
	return func(r *Resolver) error {
		if len(hs) == 0 {
			return fmt.Errorf("%w: no forwarding header", ErrConfig)
		}
		r.headers = r.headers[:0]
		for _, h := range hs {
			if h != XForwardedFor && h != Forwarded {
				return fmt.Errorf("%w: unsupported header %q", ErrConfig, string(h))
			}
			for _, seen := range r.headers {
				if seen == h {
					return fmt.Errorf("%w: header %q listed twice", ErrConfig, string(h))
				}
			}
			r.headers = append(r.headers, h)
		}
		return nil
	}
}

// New returns a Resolver that trusts the proxies in the trusted prefixes.
// With no trusted prefixes every peer is the client and forwarding headers
// are never read. A prefix written in IPv4-mapped IPv6 form with at least
// 96 bits is converted to the IPv4 prefix it denotes; host bits are masked.
// A prefix that covers a whole address family (0.0.0.0/0, ::/0,
// ::ffff:0.0.0.0/96) is an error wrapping [ErrConfig]: trusting every
// peer and every hop makes the left-most hop, which the client writes,
// the client address.
func New(trusted []netip.Prefix, opts ...Option) (*Resolver, error) {
	r := &Resolver{headers: []Header{XForwardedFor}}
	for i, p := range trusted {
		c, err := canonicalPrefix(p)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted prefix %d: %w", ErrConfig, i, err)
		}
		if c.Bits() == 0 {
			// Every peer would be a trusted proxy and every hop too, so
			// ClientIP returns the left-most hop, the one the client
			// wrote: any client chooses its own address, past allow
			// lists and into any rate-limit bucket. nginx tutorials
			// copy "set_real_ip_from 0.0.0.0/0".
			return nil, fmt.Errorf("%w: trusted prefix %d (%v) trusts every address, so every client could choose its own address in a forwarding header; list the proxies in front of the service", ErrConfig, i, p)
		}
		r.trusted = append(r.trusted, c)
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// canonicalPrefix masks p and turns an IPv4-mapped IPv6 prefix into IPv4,
// matching how addresses are canonicalised.
func canonicalPrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, errors.New("invalid prefix")
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// canonical returns a without an IPv6 zone and with an IPv4-mapped IPv6
// address turned into IPv4. Neither step allocates.
func canonical(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// Trusted reports whether a (after canonicalisation) lies in one of the
// trusted prefixes. The invalid address is never trusted.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil || !a.IsValid() {
		return false
	}
	a = canonical(a)
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// PeerAddr returns the address of the request's immediate peer, parsed
// from Request.RemoteAddr and canonicalised (no zone, IPv4-mapped addresses
// as IPv4). It accepts "host:port", "[v6]:port", "[v6%zone]:port" and a
// bare address; anything else (a Unix socket's "@" or "") gives the invalid
// address. The host and port are split at the last colon by
// net.SplitHostPort, never at the first.
func PeerAddr(req *http.Request) netip.Addr {
	if req == nil {
		return netip.Addr{}
	}
	return parsePeer(req.RemoteAddr)
}

func parsePeer(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return canonical(ap.Addr())
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return canonical(a)
		}
		return netip.Addr{}
	}
	if a, ok := parseBracketed(s); ok {
		return canonical(a)
	}
	return netip.Addr{}
}

// parseBracketed parses a bare address, or an IPv6 address in brackets.
func parseBracketed(s string) (netip.Addr, bool) {
	if inner, ok := strings.CutPrefix(s, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return a, true
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

// ClientIP returns the client address of req, canonicalised (no zone,
// IPv4-mapped addresses as IPv4), or the invalid address when it is
// unknown. See the package documentation for the rule. It never returns an
// address inside a trusted prefix while an untrusted hop is on the path;
// it does so only when every hop, the peer included, is trusted, and then
// returns the left-most hop.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	if req == nil {
		return netip.Addr{}
	}
	peer := PeerAddr(req)
	if !r.Trusted(peer) {
		return peer // the client itself, or unknown
	}
	for _, h := range r.headers {
		lines := req.Header.Values(string(h))
		if len(lines) == 0 {
			continue
		}
		switch h {
		case Forwarded:
			return r.fromForwarded(lines, peer)
		default:
			return r.fromXFF(lines, peer)
		}
	}
	return peer
}

// fromXFF walks the X-Forwarded-For hops, all lines in order, from the
// right. Empty list elements are skipped (RFC 9110 section 5.6.1 asks
// recipients to ignore them); any other entry that is not an address ends
// the walk with unknown.
func (r *Resolver) fromXFF(lines []string, peer netip.Addr) netip.Addr {
	leftmost := peer
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, line = line, ""
			}
			entry = trimOWS(entry)
			if entry == "" {
				continue
			}
			a, ok := parseXFFEntry(entry)
			if !ok {
				return netip.Addr{}
			}
			if !r.Trusted(a) {
				return a
			}
			leftmost = a
		}
	}
	return leftmost
}

// parseXFFEntry reads one X-Forwarded-For entry: an address, optionally
// with a port ("192.0.2.1:80", "[2001:db8::1]:80"), or a bracketed IPv6
// address. The result is canonical.
func parseXFFEntry(s string) (netip.Addr, bool) {
	if a, ok := parseBracketed(s); ok {
		return canonical(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return canonical(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// trimOWS removes optional white space (SP and HTAB) at both ends.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
