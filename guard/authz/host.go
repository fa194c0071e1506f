package authz

import (
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// CanonicalHost returns a Host (RFC 9110 7.2: uri-host [":" port]) in
// the one form that routes, policies, the WAF and the upstream all read
// (ward proxy forwards that form; Handler refuses any other when a policy
// matches hosts), or false for a Host that is not in a form every
// reader splits alike (400). The form, as Envoy normalizes a Host
// (strip_trailing_host_dot, lower case): the name in lower case without
// its trailing dot, an IPv6 address in its RFC 5952 form, an empty port
// ("host:") dropped. Refused:
//
//   - a name of other bytes than letters, digits, "-", "_", "~" and ".",
//     with an empty label, or with more than one colon: nginx reads the
//     host up to the first colon, so "admin.example.com:1:2" must not be
//     a host of its own here;
//   - a port that is not 1 to 65535 in digits without a leading zero
//     (":0443", ":0", ":99999"): policies compare "admin:443" as written;
//   - a name that ends in a number but is not an IPv4 address in
//     dotted decimal ("127.1", "0x7f.1", "2130706433", "010.0.0.1"):
//     browsers (the WHATWG URL standard) and inet_aton read them as
//     127.0.0.1 or 10.0.0.1, which a route or hosts rule of that address
//     never saw;
//   - an IPv6 address with a zone ("[fe80::1%25eth0]": Go's transport
//     drops it, so the upstream got "[fe80::1]") or mapping an IPv4 one
//     ("[::ffff:127.0.0.1]", 127.0.0.1 to readers that unmap);
//   - an "xn--" label that is not a valid IDNA A-label: lax decoders read
//     "xn--admin-" as "admin" and "xn--a-ecp" as "a⒈", which mapping
//     turns into "a1.".
//
// A Host already in form is returned as it is, without an allocation.
func CanonicalHost(h string) (string, bool) {
	name, port, hasPort := h, "", false
	if strings.HasPrefix(h, "[") {
		i := strings.IndexByte(h, ']')
		if i < 0 {
			return "", false
		}
		a, err := netip.ParseAddr(h[1:i])
		if err != nil || !a.Is6() || a.Zone() != "" || a.Is4In6() {
			return "", false
		}
		name = h[:i+1]
		if rest := h[i+1:]; rest != "" {
			if rest[0] != ':' {
				return "", false
			}
			port, hasPort = rest[1:], true
		}
		var buf [64]byte
		if s := a.AppendTo(buf[:0]); string(s) != name[1:len(name)-1] {
			name = "[" + string(s) + "]"
		}
	} else {
		if i := strings.IndexByte(h, ':'); i >= 0 {
			name, port, hasPort = h[:i], h[i+1:], true
		}
		var ok bool
		if name, ok = canonicalName(name); !ok {
			return "", false
		}
	}
	if port != "" && (port[0] == '0' || len(port) > 5) {
		return "", false
	}
	n := 0
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", false
		}
		n = n*10 + int(port[i]-'0')
	}
	if n > 65535 {
		return "", false
	}
	switch {
	case port != "" && len(name)+1+len(port) == len(h) && h[:len(name)] == name:
		return h, true // the common case, without an allocation
	case port != "":
		return name + ":" + port, true
	case !hasPort && len(name) == len(h) && name == h:
		return h, true
	}
	return name, true
}

// canonicalName is CanonicalHost for a name or IPv4 address without a
// port.
func canonicalName(name string) (string, bool) {
	name = strings.TrimSuffix(name, ".")
	if name == "" || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
		return "", false
	}
	upper := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return "", false
		}
	}
	if upper {
		name = strings.ToLower(name)
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	if endsInNumber(last) {
		if a, err := netip.ParseAddr(name); err != nil || !a.Is4() {
			return "", false // netip refuses leading zeros and short forms
		}
	}
	if strings.Contains(name, "xn--") {
		u, err := idna.Lookup.ToUnicode(name)
		if err != nil {
			return "", false
		}
		if a, err := idna.Lookup.ToASCII(u); err != nil || a != name {
			return "", false
		}
	}
	return name, true
}

// endsInNumber reports whether a host's last label makes it an IPv4
// address to the WHATWG URL standard (its "ends in a number" checker):
// decimal digits, or "0x" and hex digits.
func endsInNumber(label string) bool {
	if label == "" {
		return false
	}
	digits, base := label, 10
	if strings.HasPrefix(label, "0x") {
		digits, base = label[2:], 16
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !('0' <= c && c <= '9' || base == 16 && 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
