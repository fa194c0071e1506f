package clientip

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
)

// trustedPrefixes are the proxies the tests trust. The last one is written
// in IPv4-mapped form on purpose: New must turn it into 172.16.0.0/12.
var trustedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("2001:db8:1::/48"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("::ffff:172.16.0.0/108"),
}

func mustResolver(t testing.TB, opts ...Option) *Resolver {
	t.Helper()
	r, err := New(trustedPrefixes, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func request(remote string, h http.Header) *http.Request {
	req, err := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	if err != nil {
		panic(err)
	}
	req.RemoteAddr = remote
	if h != nil {
		req.Header = h
	}
	return req
}

// unknown is how the tables spell the invalid address.
const unknown = "unknown"

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return unknown
	}
	return a.String()
}

type clientIPCase struct {
	name   string
	remote string
	header http.Header
	want   string
}

func runClientIPCases(t *testing.T, r *Resolver, cases []clientIPCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := addrString(r.ClientIP(request(tc.remote, tc.header)))
			if got != tc.want {
				t.Errorf("ClientIP(RemoteAddr %q, %v) = %s, want %s", tc.remote, tc.header, got, tc.want)
			}
		})
	}
}

func xff(lines ...string) http.Header { return http.Header{"X-Forwarded-For": lines} }
func fwd(lines ...string) http.Header { return http.Header{"Forwarded": lines} }

func TestClientIPXForwardedFor(t *testing.T) {
	const proxy = "10.0.0.5:34567"
	runClientIPCases(t, mustResolver(t), []clientIPCase{
		// The peer decides whether headers are read at all.
		{"untrusted peer, no header", "203.0.113.7:1234", nil, "203.0.113.7"},
		{"spoof: untrusted peer claims a trusted address", "203.0.113.7:1234", xff("10.0.0.1"), "203.0.113.7"},
		{"spoof: untrusted peer claims another client", "203.0.113.7:1234", xff("198.51.100.1"), "203.0.113.7"},
		{"spoof: untrusted peer, underscore header ignored", "203.0.113.7:1234", http.Header{"X_forwarded_for": {"1.1.1.1"}}, "203.0.113.7"},
		{"trusted peer without header is the client", proxy, nil, "10.0.0.5"},
		{"trusted peer, empty header", proxy, xff(""), "10.0.0.5"},
		{"trusted peer, one hop", proxy, xff("203.0.113.7"), "203.0.113.7"},

		// Right-most untrusted wins; the client's own entries are left of it.
		{"spoof: client prepends an address", proxy, xff("6.6.6.6, 203.0.113.7"), "203.0.113.7"},
		{"spoof: client prepends a trusted address", proxy, xff("10.9.9.9, 203.0.113.7"), "203.0.113.7"},
		{"two trusted proxies", proxy, xff("6.6.6.6, 203.0.113.7, 192.168.4.4, 10.0.0.2"), "203.0.113.7"},
		{"all trusted returns the left-most", proxy, xff("10.0.0.9, 192.168.1.1"), "10.0.0.9"},
		{"all trusted, one entry", proxy, xff("192.168.1.1"), "192.168.1.1"},

		// Several header lines are one list, in order.
		{"lines: client line then proxy line", proxy, xff("6.6.6.6", "203.0.113.7, 10.0.0.2"), "203.0.113.7"},
		{"lines: right-most line wins", proxy, xff("198.51.100.1", "203.0.113.7"), "203.0.113.7"},
		{"lines: trusted last line continues left", proxy, xff("203.0.113.7", "10.0.0.2"), "203.0.113.7"},
		{"lines: empty last line", proxy, xff("203.0.113.7", ""), "203.0.113.7"},
		{"lines: all trusted", proxy, xff("192.168.0.1", "10.0.0.2"), "192.168.0.1"},

		// Unreadable hops stop the walk.
		{"garbage between trusted hops", proxy, xff("1.1.1.1, garbage, 10.0.0.2"), unknown},
		{"garbage right-most", proxy, xff("203.0.113.7, nonsense"), unknown},
		{"garbage left of the client is never read", proxy, xff("garbage, 203.0.113.7"), "203.0.113.7"},
		{"unknown token", proxy, xff("unknown"), unknown},
		{"bracketed IPv4 is not an address", proxy, xff("[203.0.113.7]"), unknown},
		{"address with junk", proxy, xff("203.0.113.7x"), unknown},
		{"IPv4 with a zone", proxy, xff("203.0.113.7%eth0"), unknown},
		{"empty elements are skipped", proxy, xff("203.0.113.7,, ,\t,10.0.0.2,"), "203.0.113.7"},
		{"tabs and spaces", proxy, xff(" \t203.0.113.7\t "), "203.0.113.7"},

		// Address forms.
		{"IPv4 with port", proxy, xff("203.0.113.7:8080"), "203.0.113.7"},
		{"IPv6 bare", proxy, xff("2001:db8:9::1"), "2001:db8:9::1"},
		{"IPv6 bracketed", proxy, xff("[2001:db8:9::1]"), "2001:db8:9::1"},
		{"IPv6 bracketed with port", proxy, xff("[2001:db8:9::1]:443"), "2001:db8:9::1"},
		{"IPv6 trusted hop skipped", proxy, xff("2001:db8:9::1, [2001:db8:1::7]:80"), "2001:db8:9::1"},
		{"IPv6 unbracketed with port is garbage", proxy, xff("2001:db8:9::1:443:x"), unknown},

		// Zones are stripped before the trust check and in the result.
		{"zone: untrusted zoned hop", proxy, xff("2001:db8:9::1%eth0"), "2001:db8:9::1"},
		{"zone: trusted zoned hop cannot pose as client", proxy, xff("203.0.113.7, fe80::1%eth0"), "203.0.113.7"},
		{"zone: bracketed zoned trusted hop with port", proxy, xff("203.0.113.7, [fe80::1%25eth0]:80"), "203.0.113.7"},
		{"zone: all trusted zoned hop", proxy, xff("fe80::1%eth0"), "fe80::1"},

		// IPv4-mapped IPv6 is IPv4.
		{"mapped: trusted hop in mapped form is skipped", proxy, xff("203.0.113.7, ::ffff:10.0.0.1"), "203.0.113.7"},
		{"mapped: client in mapped form is unmapped", proxy, xff("::ffff:203.0.113.7"), "203.0.113.7"},
		{"mapped: bracketed with port", proxy, xff("[::ffff:203.0.113.7]:80"), "203.0.113.7"},
		{"mapped: trusted prefix given in mapped form", proxy, xff("203.0.113.7, 172.16.5.5"), "203.0.113.7"},

		// Peer address forms.
		{"peer: IPv6 trusted", "[2001:db8:1::5]:443", xff("203.0.113.7"), "203.0.113.7"},
		{"peer: IPv6 untrusted", "[2001:db8:9::5]:443", xff("203.0.113.7"), "2001:db8:9::5"},
		{"peer: mapped trusted", "[::ffff:10.0.0.5]:443", xff("203.0.113.7"), "203.0.113.7"},
		{"peer: mapped untrusted", "[::ffff:203.0.113.9]:443", nil, "203.0.113.9"},
		{"peer: zoned trusted", "[fe80::1%eth0]:443", xff("203.0.113.7"), "203.0.113.7"},
		{"peer: zoned untrusted is returned without zone", "[2001:db8:9::5%eth0]:443", nil, "2001:db8:9::5"},
		{"peer: mapped-form trusted prefix", "172.16.0.1:443", xff("203.0.113.7"), "203.0.113.7"},
		{"peer: no port", "10.0.0.5", xff("203.0.113.7"), "203.0.113.7"},
		{"peer: bare IPv6", "2001:db8:9::5", nil, "2001:db8:9::5"},
		{"peer: bracketed IPv6 without port", "[2001:db8:9::5]", nil, "2001:db8:9::5"},
		{"peer: named port", "10.0.0.5:http", xff("203.0.113.7"), "203.0.113.7"},
		{"peer: empty", "", xff("203.0.113.7"), unknown},
		{"peer: unix socket", "@", xff("203.0.113.7"), unknown},
		{"peer: garbage", "not an address", xff("10.0.0.1"), unknown},
		{"peer: two ports", "10.0.0.5:80:90", xff("203.0.113.7"), unknown},
		{"peer: first-colon split would give 2001", "[2001:db8:9::5]:80", nil, "2001:db8:9::5"},
	})
}

func TestClientIPForwarded(t *testing.T) {
	const proxy = "10.0.0.5:34567"
	runClientIPCases(t, mustResolver(t, WithHeaders(Forwarded)), []clientIPCase{
		{"RFC 7239 example", proxy, fwd("for=192.0.2.60;proto=http;by=203.0.113.43"), "192.0.2.60"},
		{"quoted IPv6 with port", proxy, fwd(`for="[2001:db8:cafe::17]:4711"`), "2001:db8:cafe::17"},
		{"parameter name is case-insensitive", proxy, fwd(`For="[2001:db8:cafe::17]"`), "2001:db8:cafe::17"},
		{"quoted IPv4 with port", proxy, fwd(`for="192.0.2.60:8080"`), "192.0.2.60"},
		{"obfuscated port", proxy, fwd(`for="192.0.2.60:_p1"`), "192.0.2.60"},
		{"escapes in a quoted string", proxy, fwd(`for="\[2001:db8:cafe::17\]"`), "2001:db8:cafe::17"},
		{"white space around pairs", proxy, fwd("for=192.0.2.60 ; proto=http ;"), "192.0.2.60"},
		{"comma inside a quoted string", proxy, fwd(`for=192.0.2.60;ext="a,b", for=10.0.0.3`), "192.0.2.60"},

		{"right-most untrusted", proxy, fwd("for=192.0.2.43, for=198.51.100.17"), "198.51.100.17"},
		{"trusted hop skipped", proxy, fwd("for=192.0.2.43, for=10.0.0.3"), "192.0.2.43"},
		{"all trusted returns the left-most", proxy, fwd(`for=10.0.0.3, for="[2001:db8:1::1]"`), "10.0.0.3"},
		{"lines are one list", proxy, fwd("for=6.6.6.6", "for=192.0.2.43, for=10.0.0.3"), "192.0.2.43"},
		{"empty elements skipped", proxy, fwd(", for=192.0.2.43,, for=10.0.0.3 ,"), "192.0.2.43"},
		{"spoof: client element left of the client", proxy, fwd("for=10.1.1.1, for=192.0.2.43"), "192.0.2.43"},
		{"spoof: open quote around a bracket", proxy, fwd(`for="[zz, for=192.0.2.43`), unknown},
		{"spoof: client syntax error left of the client", proxy, fwd("for=1.1.1.1 junk, for=192.0.2.43"), "192.0.2.43"},
		{"spoof: open quote swallows the proxy's element", proxy, fwd(`for="6.6.6.6, for=192.0.2.43`), unknown},
		{"spoof: open quote swallows a quoted element", proxy, fwd(`for="x, for="[2001:db8::9]:1"`), unknown},
		{"spoof: open quote on its own line", proxy, fwd(`for="6.6.6.6`, "for=192.0.2.43"), "192.0.2.43"},
		{"spoof: untrusted peer", "203.0.113.7:1", fwd("for=10.0.0.1"), "203.0.113.7"},

		{"unknown node", proxy, fwd("for=unknown"), unknown},
		{"unknown node behind trusted", proxy, fwd("for=unknown, for=10.0.0.3"), unknown},
		{"obfuscated node", proxy, fwd("for=_hidden"), unknown},
		{"obfuscated node quoted with port", proxy, fwd(`for="_hidden:_p"`), unknown},
		{"element without for", proxy, fwd("proto=https;by=10.0.0.5"), unknown},
		{"repeated for", proxy, fwd("for=192.0.2.1;for=192.0.2.2"), unknown},
		{"unquoted IPv6 is not a token", proxy, fwd("for=2001:db8::1"), unknown},
		{"unquoted bracketed IPv6", proxy, fwd("for=[2001:db8::1]"), unknown},
		{"unbracketed quoted IPv6", proxy, fwd(`for="2001:db8::1"`), unknown},
		{"bracketed IPv4", proxy, fwd(`for="[192.0.2.1]"`), unknown},
		{"missing bracket", proxy, fwd(`for="[2001:db8::1"`), unknown},
		{"junk after bracket", proxy, fwd(`for="[2001:db8::1]x"`), unknown},
		{"port too long", proxy, fwd(`for="192.0.2.1:123456"`), unknown},
		{"port not numeric", proxy, fwd(`for="192.0.2.1:8x"`), unknown},
		{"empty port", proxy, fwd(`for="192.0.2.1:"`), unknown},
		{"empty obfuscated port", proxy, fwd(`for="192.0.2.1:_"`), unknown},
		{"empty value", proxy, fwd("for="), unknown},
		{"no value", proxy, fwd("for"), unknown},
		{"control character in quotes", proxy, fwd("for=\"192.0.2.1\x01\""), unknown},
		{"trailing backslash", proxy, fwd(`for="192.0.2.1\`), unknown},
		{"zone stripped", proxy, fwd(`for="[2001:db8:9::1%eth0]"`), "2001:db8:9::1"},
		{"zoned trusted hop skipped", proxy, fwd(`for=192.0.2.43, for="[fe80::1%eth0]:80"`), "192.0.2.43"},
		{"mapped trusted hop skipped", proxy, fwd(`for=192.0.2.43, for="[::ffff:10.0.0.1]"`), "192.0.2.43"},
		{"mapped client unmapped", proxy, fwd(`for="[::ffff:192.0.2.43]"`), "192.0.2.43"},
		{"X-Forwarded-For is not read", proxy, xff("192.0.2.43"), "10.0.0.5"},
	})
}

func TestClientIPBothHeaders(t *testing.T) {
	const proxy = "10.0.0.5:34567"
	runClientIPCases(t, mustResolver(t, WithHeaders(Forwarded, XForwardedFor)), []clientIPCase{
		{"first listed header wins", proxy, http.Header{"Forwarded": {"for=192.0.2.1"}, "X-Forwarded-For": {"192.0.2.2"}}, "192.0.2.1"},
		{"falls back to the second", proxy, xff("192.0.2.2"), "192.0.2.2"},
		{"neither present", proxy, nil, "10.0.0.5"},
	})
}

func TestNoTrustedProxies(t *testing.T) {
	r, err := New(nil, WithHeaders(XForwardedFor, Forwarded))
	if err != nil {
		t.Fatal(err)
	}
	req := request("10.0.0.5:1", http.Header{"X-Forwarded-For": {"192.0.2.2"}, "Forwarded": {"for=192.0.2.1"}})
	if got := r.ClientIP(req); got != netip.MustParseAddr("10.0.0.5") {
		t.Errorf("ClientIP = %v, want the peer 10.0.0.5", got)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		opts    []Option
	}{
		{"invalid prefix", []netip.Prefix{{}}, nil},
		{"prefix too long", []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), 33)}, nil},
		{"no header", nil, []Option{WithHeaders()}},
		{"unsupported header", nil, []Option{WithHeaders("X-Real-IP")}},
		{"duplicate header", nil, []Option{WithHeaders(XForwardedFor, XForwardedFor)}},
		// Every address in pieces: every client chooses its own.
		{"IPv4 in halves", []netip.Prefix{netip.MustParsePrefix("128.0.0.0/1"), netip.MustParsePrefix("0.0.0.0/1")}, nil},
		{"IPv4 in overlapping pieces", []netip.Prefix{netip.MustParsePrefix("0.0.0.0/2"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("64.0.0.0/2"), netip.MustParsePrefix("::ffff:128.0.0.0/97")}, nil},
		{"IPv6 in halves", []netip.Prefix{netip.MustParsePrefix("::/1"), netip.MustParsePrefix("8000::/1")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.trusted, tc.opts...)
			if !errors.Is(err, ErrConfig) {
				t.Errorf("New = %v, %v; want an error wrapping ErrConfig", r, err)
			}
		})
	}
}

func TestTrustedCanonical(t *testing.T) {
	r := mustResolver(t)
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", true},
		{"fe80::1%eth0", true},
		{"172.16.0.1", true},
		{"172.32.0.1", false},
		{"2001:db8:2::1", false},
	} {
		if got := r.Trusted(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Trusted(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if r.Trusted(netip.Addr{}) {
		t.Error("the invalid address is trusted")
	}
	var nilResolver *Resolver
	if nilResolver.Trusted(netip.MustParseAddr("10.0.0.1")) {
		t.Error("a nil Resolver trusts")
	}
}

func TestNilRequest(t *testing.T) {
	r := mustResolver(t)
	if got := r.ClientIP(nil); got.IsValid() {
		t.Errorf("ClientIP(nil) = %v, want unknown", got)
	}
	if got := PeerAddr(nil); got.IsValid() {
		t.Errorf("PeerAddr(nil) = %v, want unknown", got)
	}
}

func TestClientIPAllocs(t *testing.T) {
	r := mustResolver(t)
	req := request("10.0.0.5:1", xff("6.6.6.6, 203.0.113.7, 10.0.0.2"))
	if n := testing.AllocsPerRun(100, func() { r.ClientIP(req) }); n != 0 {
		t.Errorf("ClientIP with X-Forwarded-For: %v allocs, want 0", n)
	}
	rf := mustResolver(t, WithHeaders(Forwarded))
	reqf := request("10.0.0.5:1", fwd(`for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.2`))
	if n := testing.AllocsPerRun(100, func() { rf.ClientIP(reqf) }); n != 0 {
		t.Errorf("ClientIP with Forwarded: %v allocs, want 0", n)
	}
}

func BenchmarkClientIP(b *testing.B) {
	b.Run("X-Forwarded-For", func(b *testing.B) {
		r := mustResolver(b)
		req := request("10.0.0.5:1", xff("6.6.6.6, 203.0.113.7, 10.0.0.2"))
		b.ReportAllocs()
		for b.Loop() {
			r.ClientIP(req)
		}
	})
	b.Run("Forwarded", func(b *testing.B) {
		r := mustResolver(b, WithHeaders(Forwarded))
		req := request("10.0.0.5:1", fwd(`for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.2`))
		b.ReportAllocs()
		for b.Loop() {
			r.ClientIP(req)
		}
	})
}

// TestTrustsEveryAddress: a list covers a family only without a gap, to
// its last address.
func TestTrustsEveryAddress(t *testing.T) {
	for _, tc := range []struct {
		prefixes []string
		want     string // "": not every address
	}{
		{[]string{"0.0.0.0/0"}, "IPv4"},
		{[]string{"::/0"}, "IPv6"},
		{[]string{"0.0.0.0/1", "128.0.0.0/1"}, "IPv4"},
		{[]string{"192.0.0.0/2", "0.0.0.0/1", "128.0.0.0/2"}, "IPv4"},
		{[]string{"0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/3"}, "IPv4"},
		{[]string{"::ffff:0.0.0.0/97", "::ffff:128.0.0.0/97"}, "IPv4"},
		{[]string{"::/1", "8000::/2", "c000::/2"}, "IPv6"},
		// Gaps.
		{[]string{"0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/4"}, ""},
		{[]string{"0.0.0.0/1"}, ""},
		{[]string{"128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/3"}, ""},
		{[]string{"0.0.0.0/1", "::/1", "8000::/2"}, ""},
		{[]string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}, ""},
		{nil, ""},
	} {
		var ps []netip.Prefix
		for _, s := range tc.prefixes {
			ps = append(ps, netip.MustParsePrefix(s))
		}
		fam, ok := TrustsEveryAddress(ps)
		if fam != tc.want || ok != (tc.want != "") {
			t.Errorf("TrustsEveryAddress(%v) = %q, %v; want %q", tc.prefixes, fam, ok, tc.want)
		}
	}
}
