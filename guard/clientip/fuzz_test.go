package clientip

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// Flags of FuzzClientIP's flags argument.
const (
	fuzzForwarded = 1 << iota // read Forwarded instead of X-Forwarded-For
	fuzzNewLine               // proxies add their own header line
	fuzzRawPeer               // RemoteAddr is the fuzzed string, not a trusted proxy
	fuzzForm0                 // two bits choosing how A is written
	fuzzForm1
	fuzzHopV6 // A is IPv6
)

// trustedHops are trusted proxy addresses the fuzz target appends.
var trustedHops = []netip.Addr{
	netip.MustParseAddr("10.0.0.2"),
	netip.MustParseAddr("192.168.7.7"),
	netip.MustParseAddr("2001:db8:1::9"),
	netip.MustParseAddr("172.16.0.3"),
}

// FuzzClientIP builds a request as a chain of proxies would: a client
// sends arbitrary forwarding-header text (client), the first trusted proxy
// appends the address A it saw (from hop), k%4 more trusted proxies append
// theirs, and the peer is a trusted proxy (or, with fuzzRawPeer, the
// arbitrary remote string). It checks:
//
//	P1  ClientIP does not panic, and its result is either the invalid
//	    address ("unknown") or a valid address without a zone that is not
//	    IPv4-mapped IPv6.
//	P2  If the peer is not trusted, the result is PeerAddr(req): headers
//	    from an untrusted peer change nothing.
//	P3  If the peer is trusted and A is not, the result is exactly A,
//	    whatever the client wrote (no spoofing). Exception: Forwarded with
//	    the proxies appending to the client's own line, where an open quote
//	    in the client's text swallows the line: there the result is A or
//	    unknown, never anything else.
//	P4  The result is never a trusted proxy while an untrusted hop exists:
//	    if it is a valid trusted address, the peer is trusted and every hop
//	    of the header is a trusted address, and the result is the left-most
//	    hop (the peer when there are none). For X-Forwarded-For the hops
//	    come from a plain split of the header; for Forwarded, A must be
//	    trusted.
func FuzzClientIP(f *testing.F) {
	f.Add("", "", []byte{203, 0, 113, 7}, uint8(0), uint8(0))
	f.Add("", "6.6.6.6, 10.0.0.1", []byte{203, 0, 113, 7}, uint8(2), uint8(fuzzNewLine))
	f.Add("", `for="6.6.6.6`, []byte{203, 0, 113, 7}, uint8(1), uint8(fuzzForwarded))
	f.Add("", `for="x", for=_y`, []byte{10, 1, 1, 1}, uint8(1), uint8(fuzzForwarded|fuzzForm0))
	f.Add("", "", []byte{10, 1, 1, 1}, uint8(3), uint8(fuzzForm1))
	f.Add("", "garbage", []byte{0x20, 1, 0xd, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(1), uint8(fuzzHopV6|fuzzForm0|fuzzForm1))
	f.Add("", "", []byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(0), uint8(fuzzHopV6|fuzzForm0|fuzzForm1|fuzzForwarded))
	f.Add("[fe80::1%eth0]:80", "", []byte{203, 0, 113, 7}, uint8(0), uint8(fuzzRawPeer))
	f.Add("203.0.113.9:1", "10.0.0.1", []byte{10, 0, 0, 1}, uint8(0), uint8(fuzzRawPeer))
	f.Add("[::ffff:10.0.0.1]:1", "", []byte{203, 0, 113, 7}, uint8(0), uint8(fuzzRawPeer|fuzzForm1))
	f.Add("garbage", "", []byte{}, uint8(0), uint8(fuzzRawPeer))

	xffR := mustResolver(f)
	fwdR := mustResolver(f, WithHeaders(Forwarded))

	f.Fuzz(func(t *testing.T, remote, client string, hop []byte, k, flags uint8) {
		r, name := xffR, string(XForwardedFor)
		if flags&fuzzForwarded != 0 {
			r, name = fwdR, string(Forwarded)
		}

		// A, and how the first proxy writes it.
		var a netip.Addr
		if flags&fuzzHopV6 != 0 {
			var b [16]byte
			copy(b[:], hop)
			a = netip.AddrFrom16(b)
		} else {
			var b [4]byte
			copy(b[:], hop)
			a = netip.AddrFrom4(b)
		}
		wantA := a.Unmap()
		form := (flags / fuzzForm0) & 3
		hops := []string{renderHop(a, form, flags&fuzzForwarded != 0)}
		for i := range int(k % 4) {
			th := trustedHops[(i+int(k/4))%len(trustedHops)]
			hops = append(hops, renderHop(th, uint8(i%3), flags&fuzzForwarded != 0))
		}
		appended := strings.Join(hops, ", ")
		var lines []string
		switch {
		case flags&fuzzNewLine != 0:
			lines = []string{client, appended}
		case client == "":
			lines = []string{appended}
		default:
			lines = []string{client + ", " + appended}
		}

		peer := "10.0.0.5:443"
		if k%2 == 1 {
			peer = "[2001:db8:1::5]:443"
		}
		if flags&fuzzRawPeer != 0 {
			peer = remote
		}
		req := &http.Request{RemoteAddr: peer, Header: http.Header{name: lines}}
		got := r.ClientIP(req)

		// P1
		if got.IsValid() && (got.Zone() != "" || got.Is4In6()) {
			t.Fatalf("P1: result %v is not canonical", got)
		}
		// P2
		peerAddr := PeerAddr(req)
		if !r.Trusted(peerAddr) {
			if got != peerAddr {
				t.Fatalf("P2: untrusted peer %q: result %v, want the peer %v", peer, got, peerAddr)
			}
			return
		}
		// P3
		if !r.Trusted(wantA) {
			sameLineForwarded := flags&fuzzForwarded != 0 && flags&fuzzNewLine == 0 && client != ""
			if got != wantA && !(sameLineForwarded && !got.IsValid()) {
				t.Fatalf("P3: header %q: result %v, want A = %v", lines, addrString(got), wantA)
			}
		}
		// P4
		if got.IsValid() && r.Trusted(got) {
			if flags&fuzzForwarded != 0 {
				if !r.Trusted(wantA) {
					t.Fatalf("P4: result %v is trusted but hop A = %v is not", got, wantA)
				}
				return
			}
			hopAddrs, ok := referenceXFF(lines)
			if !ok {
				t.Fatalf("P4: result %v is trusted but header %q has an unreadable hop", got, lines)
			}
			leftmost := peerAddr
			if len(hopAddrs) > 0 {
				leftmost = hopAddrs[0]
			}
			for _, h := range hopAddrs {
				if !r.Trusted(h) {
					t.Fatalf("P4: result %v is trusted but hop %v of %q is not", got, h, lines)
				}
			}
			if got != leftmost {
				t.Fatalf("P4: every hop of %q is trusted; result %v, want the left-most %v", lines, got, leftmost)
			}
		}
	})
}

// renderHop writes a the way a proxy would, in one of several forms.
func renderHop(a netip.Addr, form uint8, forwarded bool) string {
	var s string
	switch form {
	case 0:
		s = a.String()
	case 1:
		s = netip.AddrPortFrom(a, 8080).String()
	case 2:
		if a.Is4() {
			s = "::ffff:" + a.String()
			if forwarded {
				s = "[" + s + "]"
			}
		} else {
			s = "[" + a.String() + "]"
		}
	default:
		if a.Is6() {
			s = "[" + a.WithZone("eth0").String() + "]:" + strconv.Itoa(80)
		} else {
			s = a.String()
		}
	}
	if !forwarded {
		return s
	}
	if a.Is6() && !strings.HasPrefix(s, "[") {
		s = "[" + s + "]"
	}
	return `for="` + s + `";proto=https`
}

// referenceXFF splits X-Forwarded-For lines into canonical addresses the
// plain way; ok is false when an entry is not an address.
func referenceXFF(lines []string) (hops []netip.Addr, ok bool) {
	for _, line := range lines {
		for _, e := range strings.Split(line, ",") {
			e = strings.Trim(e, " \t")
			if e == "" {
				continue
			}
			var a netip.Addr
			if x, err := netip.ParseAddr(e); err == nil {
				a = x
			} else if ap, err := netip.ParseAddrPort(e); err == nil {
				a = ap.Addr()
			} else if len(e) > 2 && e[0] == '[' && e[len(e)-1] == ']' {
				x, err := netip.ParseAddr(e[1 : len(e)-1])
				if err != nil || !x.Is6() {
					return nil, false
				}
				a = x
			} else {
				return nil, false
			}
			hops = append(hops, a.Unmap().WithZone(""))
		}
	}
	return hops, true
}
