package authz

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// patKind is how a value of a rule matches a string.
type patKind uint8

const (
	patExact    patKind = iota // "abc"
	patPrefix                  // "abc*"
	patSuffix                  // "*abc"
	patPresent                 // "*": the value is present (and, for most attributes, not empty)
	patTemplate                // paths only: "/a/{*}/b/{**}"
)

// pattern is one compiled value of a rule.
type pattern struct {
	kind patKind
	s    string
	re   *regexp.Regexp // patTemplate
	// withPort (hosts only) compares the whole Host header, port
	// included; without it, the host name alone is compared.
	withPort bool
}

// compilePattern parses Istio's value syntax: exact, "prefix*", "*suffix"
// and "*" for presence.
func compilePattern(v string) pattern {
	switch {
	case v == "*":
		return pattern{kind: patPresent}
	case strings.HasPrefix(v, "*"):
		return pattern{kind: patSuffix, s: v[1:]}
	case strings.HasSuffix(v, "*"):
		return pattern{kind: patPrefix, s: v[:len(v)-1]}
	}
	return pattern{kind: patExact, s: v}
}

// match reports whether s matches; present tells whether the attribute
// exists at all (for "*").
func (p *pattern) match(s string, present bool) bool {
	switch p.kind {
	case patExact:
		return present && s == p.s
	case patPrefix:
		return present && strings.HasPrefix(s, p.s)
	case patSuffix:
		return present && strings.HasSuffix(s, p.s)
	case patPresent:
		return present
	case patTemplate:
		return present && p.re.MatchString(s)
	}
	return false
}

// matchFold is match with ASCII case folding; p.s is lower case.
func (p *pattern) matchFold(s string, present bool) bool {
	switch p.kind {
	case patExact:
		return present && len(s) == len(p.s) && asciiEqualFold(s, p.s)
	case patPrefix:
		return present && len(s) >= len(p.s) && asciiEqualFold(s[:len(p.s)], p.s)
	case patSuffix:
		return present && len(s) >= len(p.s) && asciiEqualFold(s[len(s)-len(p.s):], p.s)
	case patPresent:
		return present
	}
	return false
}

// asciiEqualFold compares s with the lower-case lower, folding only ASCII
// letters: Unicode folding would let "K" (Kelvin sign) match "k".
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// rpPattern is a request principal value, matched as Istio matches it:
// the value is split at its last "/" into issuer and subject patterns,
// which must both match (pilot/pkg/security/authz/model/generator.go).
//
// A value that denies (in a DENY policy) or excludes (notRequestPrincipals
// in an ALLOW policy) is wide: it also matches the principal whole,
// "<iss>/<sub>", since subjects may hold "/" (JWT-SVIDs, GitHub's
// "repo:org/name:ref:..."), which the split at the last "/" puts in the
// issuer, and such a value named a token it never matched.
type rpPattern struct {
	iss, sub pattern
	whole    pattern // wide only
	wide     bool
}

func compileRequestPrincipal(v string) rpPattern {
	present := pattern{kind: patPresent}
	i := strings.LastIndexByte(v, '/')
	found := i >= 0
	iss, sub := v, ""
	if found {
		iss, sub = v[:i], v[i+1:]
	}
	switch {
	case v == "*":
		return rpPattern{iss: present, sub: present}
	case strings.HasPrefix(v, "*"):
		if !found {
			return rpPattern{iss: present, sub: pattern{kind: patSuffix, s: v[1:]}}
		}
		p := rpPattern{iss: pattern{kind: patSuffix, s: iss[1:]}, sub: pattern{kind: patExact, s: sub}}
		if iss == "*" {
			p.iss = present
		}
		return p
	case strings.HasSuffix(v, "*"):
		if !found {
			return rpPattern{iss: pattern{kind: patPrefix, s: v[:len(v)-1]}, sub: present}
		}
		p := rpPattern{iss: pattern{kind: patExact, s: iss}, sub: pattern{kind: patPrefix, s: sub[:len(sub)-1]}}
		if sub == "*" {
			p.sub = present
		}
		return p
	}
	return rpPattern{iss: pattern{kind: patExact, s: iss}, sub: pattern{kind: patExact, s: sub}}
}

func (p *rpPattern) match(iss, sub, principal string) bool {
	if p.iss.match(iss, iss != "") && p.sub.match(sub, sub != "") {
		return true
	}
	return p.wide && iss != "" && p.whole.match(principal, true)
}

// widen makes p wide (see rpPattern) for the value v it was compiled from.
func (p *rpPattern) widen(v string) {
	p.whole, p.wide = compilePattern(v), true
}

// attr is the request attribute a criterion reads.
type attr uint8

const (
	attrPrincipal        attr = iota // source.principal
	attrNamespace                    // source.namespace
	attrRequestPrincipal             // request.auth.principal
	attrSourceIP                     // source.ip
	attrRemoteIP                     // remote.ip
	attrDestinationIP                // destination.ip
	attrHost                         // request host (Host header, :authority)
	attrPort                         // destination.port
	attrMethod                       // request method
	attrPath                         // normalised request path
	attrHeader                       // request.headers[name]
	attrClaim                        // request.auth.claims[a][b]
	attrAudiences                    // request.auth.audiences
	attrPresenter                    // request.auth.presenter
	attrSNI                          // connection.sni
	attrServiceAccount               // source.serviceAccount (serviceAccounts)
	attrTrustDomain                  // source.trustDomain
)

// criterion is one field of a source or an operation, or one condition:
// some value must match (when there are values) and no negative value may
// match (when there are some).
type criterion struct {
	attr   attr
	name   string   // for reasons: "principals", "notPaths", "request.headers[x-team]"
	header string   // attrHeader: canonical header name
	claim  []string // attrClaim: path into the claims

	in, notIn     []pattern
	rpIn, rpNotIn []rpPattern
	// wideIn and wideNotIn make in or notIn match more readings of the
	// request: request.headers[:path] the path with its query too
	// (Envoy's :path), namespaces any "/ns/<namespace>/" of the
	// principal (Istio's regular expression ".*/ns/<namespace>/.*").
	// They are set for the values that deny or exclude, so that every
	// reading counts against the request and only the plain one for it.
	wideIn, wideNotIn bool

	ipIn, ipNotIn []netip.Prefix
	portIn        []int
	portNotIn     []int
	saIn, saNotIn []*regexp.Regexp // attrServiceAccount: on the principal
}

func (c *criterion) match(v *view) bool {
	switch c.attr {
	case attrPrincipal:
		return c.matchString(v.principal, v.principal != "")
	case attrNamespace:
		if (c.wideIn || c.wideNotIn) && v.r.SourceNamespace == "" {
			return c.matchNamespaces(v)
		}
		return c.matchString(v.namespace, v.namespace != "")
	case attrServiceAccount:
		return matchServiceAccount(c.saIn, c.saNotIn, v.principal)
	case attrTrustDomain:
		return c.matchString(v.trustDomain, v.trustDomain != "")
	case attrPresenter:
		if v.r.Presenter == "" {
			return c.matchValue(v.r.Claims["azp"])
		}
		return c.matchString(v.r.Presenter, true)
	case attrSNI:
		// Server names are DNS names: a handshake for ADMIN.example.com.
		// is one for admin.example.com, and a DENY of it must see so.
		sni := strings.TrimSuffix(v.r.SNI, ".")
		return c.matchStringFold(sni, sni != "")
	case attrMethod:
		return c.matchString(v.r.Method, v.r.Method != "")
	case attrPath:
		return c.matchString(v.path, v.path != "")
	case attrHost:
		return c.matchHost(v)
	case attrHeader:
		if c.header == ":path" && v.query != "" {
			return c.matchPathHeader(v)
		}
		s, ok := v.header(c.header)
		return c.matchString(s, ok)
	case attrRequestPrincipal:
		return c.matchRequestPrincipal(v)
	case attrSourceIP:
		return matchIP(c.ipIn, c.ipNotIn, v.sourceIP)
	case attrRemoteIP:
		return matchIP(c.ipIn, c.ipNotIn, v.remoteIP)
	case attrDestinationIP:
		return matchIP(c.ipIn, c.ipNotIn, v.destinationIP)
	case attrPort:
		return matchPort(c.portIn, c.portNotIn, v.r.Port)
	case attrAudiences:
		if v.r.Audiences == nil {
			return c.matchValue(v.r.Claims["aud"])
		}
		return c.matchList(v.r.Audiences)
	case attrClaim:
		return c.matchClaim(v)
	}
	return false
}

// matchServiceAccount matches a peer's principal against service
// accounts: some value must match (when there are values) and no
// negative value may. An anonymous peer matches no value.
func matchServiceAccount(in, notIn []*regexp.Regexp, principal string) bool {
	matches := func(res []*regexp.Regexp) bool {
		if principal == "" {
			return false
		}
		for _, re := range res {
			if re.MatchString(principal) {
				return true
			}
		}
		return false
	}
	if len(in) > 0 && !matches(in) {
		return false
	}
	return len(notIn) == 0 || !matches(notIn)
}

// serviceAccountRegexp is what a serviceAccounts value matches, as Istio
// builds it for Envoy: a principal (without "spiffe://") of a trust
// domain, optional segments, "/ns/<namespace>/", optional segments,
// "sa/<name>", and optional segments; the namespace is policyNamespace
// when the value has none. The names are literal.
func serviceAccountRegexp(policyNamespace, value string) *regexp.Regexp {
	ns, sa, ok := strings.Cut(value, "/")
	if !ok {
		ns, sa = policyNamespace, value
	}
	return regexp.MustCompile("^.+/ns/" + regexp.QuoteMeta(ns) + "/(.+/|)sa/" + regexp.QuoteMeta(sa) + "(/.+)?$")
}

func anyMatch(ps []pattern, s string, present bool) bool {
	for i := range ps {
		if ps[i].match(s, present) {
			return true
		}
	}
	return false
}

func (c *criterion) matchString(s string, present bool) bool {
	if len(c.in) > 0 && !anyMatch(c.in, s, present) {
		return false
	}
	return len(c.notIn) == 0 || !anyMatch(c.notIn, s, present)
}

// matchNamespaces matches namespaces against the peer's principal: the
// namespace of its first "/ns/<namespace>/", and for wide lists that of
// any, as Istio's ".*/ns/<namespace>/.*" does: a DENY of namespace admin
// must match "td/ns/dev/sa/ci/ns/admin/x", which Istio denies.
func (c *criterion) matchNamespaces(v *view) bool {
	some := func(ps []pattern, wide bool) bool {
		if anyMatch(ps, v.namespace, v.namespace != "") {
			return true
		}
		for p := v.principal; wide; {
			i := strings.Index(p, "/ns/")
			if i < 0 {
				break
			}
			p = p[i+len("/ns/"):]
			if j := strings.IndexByte(p, '/'); j > 0 && anyMatch(ps, p[:j], true) {
				return true
			}
		}
		return false
	}
	if len(c.in) > 0 && !some(c.in, c.wideIn) {
		return false
	}
	return len(c.notIn) == 0 || !some(c.notIn, c.wideNotIn)
}

// matchPathHeader matches request.headers[:path] of a request with a
// query: the normalised path, and for wide lists the path and the query
// too ("/export?format=csv"), as Envoy's :path holds them.
func (c *criterion) matchPathHeader(v *view) bool {
	full := v.path + "?" + v.query
	some := func(ps []pattern, wide bool) bool {
		return anyMatch(ps, v.path, true) || wide && anyMatch(ps, full, true)
	}
	if len(c.in) > 0 && !some(c.in, c.wideIn) {
		return false
	}
	return len(c.notIn) == 0 || !some(c.notIn, c.wideNotIn)
}

// matchStringFold is matchString with ASCII case folding; the patterns
// are lower case.
func (c *criterion) matchStringFold(s string, present bool) bool {
	some := func(ps []pattern) bool {
		for i := range ps {
			if ps[i].matchFold(s, present) {
				return true
			}
		}
		return false
	}
	if len(c.in) > 0 && !some(c.in) {
		return false
	}
	return len(c.notIn) == 0 || !some(c.notIn)
}

// matchList matches a list attribute: some element must match a value and
// no element may match a negative value.
func (c *criterion) matchList(list []string) bool {
	if len(c.in) > 0 {
		found := false
		for _, s := range list {
			if anyMatch(c.in, s, true) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, s := range list {
		if anyMatch(c.notIn, s, true) {
			return false
		}
	}
	return true
}

// matchClaim matches the claim at c.claim, nested claims being objects.
func (c *criterion) matchClaim(v *view) bool {
	var cur any = v.r.Claims
	for _, name := range c.claim {
		m, ok := cur.(map[string]any)
		if !ok {
			return c.matchValue(nil)
		}
		cur = m[name]
	}
	return c.matchValue(cur)
}

// matchValue matches a claim that is a string or a list of strings, the
// claim types Istio supports; a claim of another type or a missing one
// matches no value.
func (c *criterion) matchValue(claim any) bool {
	switch x := claim.(type) {
	case string:
		return c.matchString(x, true)
	case []string:
		return c.matchList(x)
	case []any:
		if len(c.in) > 0 {
			found := false
			for _, e := range x {
				if s, ok := e.(string); ok && anyMatch(c.in, s, true) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		for _, e := range x {
			if s, ok := e.(string); ok && anyMatch(c.notIn, s, true) {
				return false
			}
		}
		return true
	}
	return c.matchString("", false)
}

// matchHost matches the request host case-insensitively. Values without a
// port match the host name whatever port the Host header names (and
// without one trailing dot), so that "example.com" also covers
// "Example.COM:443"; values with a port, like Istio's recommended
// "example.com:*", are compared with the whole header.
func (c *criterion) matchHost(v *view) bool {
	some := func(ps []pattern) bool {
		for i := range ps {
			p := &ps[i]
			if p.withPort {
				if p.matchFold(v.r.Host, v.r.Host != "") {
					return true
				}
			} else if p.matchFold(v.hostName, v.hostName != "") {
				return true
			}
		}
		return false
	}
	if len(c.in) > 0 && !some(c.in) {
		return false
	}
	return len(c.notIn) == 0 || !some(c.notIn)
}

func (c *criterion) matchRequestPrincipal(v *view) bool {
	some := func(ps []rpPattern) bool {
		for i := range ps {
			if ps[i].match(v.iss, v.sub, v.r.RequestPrincipal) {
				return true
			}
		}
		return false
	}
	if len(c.rpIn) > 0 && !some(c.rpIn) {
		return false
	}
	return len(c.rpNotIn) == 0 || !some(c.rpNotIn)
}

func containsIP(ps []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func matchIP(in, notIn []netip.Prefix, ip netip.Addr) bool {
	if len(in) > 0 && !containsIP(in, ip) {
		return false
	}
	return len(notIn) == 0 || !containsIP(notIn, ip)
}

func matchPort(in, notIn []int, port int) bool {
	if len(in) > 0 && !slices.Contains(in, port) {
		return false
	}
	return !slices.Contains(notIn, port)
}
