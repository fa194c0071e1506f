package clientip

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
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
// ::ffff:0.0.0.0/96), or prefixes that do together (0.0.0.0/1 and
// 128.0.0.0/1; see [TrustsEveryAddress]), is an error wrapping
// [ErrConfig]: trusting every peer and every hop makes the left-most hop,
// which the client writes, the client address.
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
	if fam, ok := coversFamily(r.trusted); ok {
		// The same, written in pieces (0.0.0.0/1 and 128.0.0.0/1, as
		// VPN configurations write a default route).
		return nil, fmt.Errorf("%w: trusted prefixes %v together trust every %s address, so every client could choose its own address in a forwarding header; list the proxies in front of the service", ErrConfig, trusted, fam)
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

// TrustsEveryAddress reports whether the prefixes, together, cover every
// IPv4 or every IPv6 address (one of them 0.0.0.0/0, or pieces such as
// 0.0.0.0/1 and 128.0.0.0/1), and which family: [New] refuses such a
// list. Invalid prefixes are ignored.
func TrustsEveryAddress(ps []netip.Prefix) (family string, ok bool) {
	cs := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if c, err := canonicalPrefix(p); err == nil {
			cs = append(cs, c)
		}
	}
	return coversFamily(cs)
}

// coversFamily is TrustsEveryAddress for canonical prefixes: it sweeps
// each family's prefixes in address order for a gap.
func coversFamily(ps []netip.Prefix) (family string, ok bool) {
	for _, fam := range []struct {
		name        string
		first, last netip.Addr
	}{
		{"IPv4", netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255})},
		{"IPv6", netip.IPv6Unspecified(), netip.AddrFrom16([16]byte{0: 0xff, 1: 0xff, 2: 0xff, 3: 0xff, 4: 0xff, 5: 0xff, 6: 0xff, 7: 0xff, 8: 0xff, 9: 0xff, 10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff})},
	} {
		var rs []netip.Prefix
		for _, p := range ps {
			if p.Addr().Is4() == fam.first.Is4() {
				rs = append(rs, p)
			}
		}
		slices.SortFunc(rs, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
		next := fam.first
		for _, p := range rs {
			if p.Addr().Compare(next) > 0 {
				break // a gap before p
			}
			if end := lastAddr(p); end.Compare(next) >= 0 {
				if end == fam.last {
					return fam.name, true
				}
				next = end.Next()
			}
		}
	}
	return "", false
}

// lastAddr is the last address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			if i*8+bit >= p.Bits() {
				b[i] |= 0x80 >> bit
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
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
