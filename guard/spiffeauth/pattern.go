package spiffeauth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Pattern matches SPIFFE IDs: an exact ID, with "*" segments matching
// exactly one path segment, and an optional final "**" segment matching
// one or more segments.
type Pattern struct {
	td     spiffeid.TrustDomain
	segs   []string
	prefix bool
	text   string
}

// ParsePattern parses a pattern such as "spiffe://example.org/ns/*/sa/web"
// or "spiffe://example.org/ns/shop/**".
func ParsePattern(s string) (Pattern, error) {
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok {
		return Pattern{}, fmt.Errorf("spiffeauth: pattern %q does not start with spiffe://", s)
	}
	tdName, path, _ := strings.Cut(rest, "/")
	td, err := spiffeid.TrustDomainFromString(tdName)
	if err != nil {
		return Pattern{}, fmt.Errorf("spiffeauth: pattern %q: %w", s, err)
	}
	p := Pattern{td: td, text: s}
	if path == "" {
		return p, nil
	}
	p.segs = strings.Split(path, "/")
	for i, seg := range p.segs {
		switch {
		case seg == "**" && i == len(p.segs)-1:
			p.prefix = true
		case seg == "**":
			return Pattern{}, fmt.Errorf("spiffeauth: pattern %q: ** must be the last segment", s)
		case seg == "":
			return Pattern{}, fmt.Errorf("spiffeauth: pattern %q has an empty segment", s)
		case seg != "*" && strings.Contains(seg, "*"):
			return Pattern{}, fmt.Errorf("spiffeauth: pattern %q: * must be a whole segment", s)
		}
	}
	if p.prefix {
		p.segs = p.segs[:len(p.segs)-1]
	}
	return p, nil
}

// MustParsePattern is ParsePattern that panics on error, for patterns
// written in code.
func MustParsePattern(s string) Pattern {
	p, err := ParsePattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

func (p Pattern) String() string { return p.text }

// TrustDomain returns the trust domain of the IDs p matches: the bundle
// that verifies them.
func (p Pattern) TrustDomain() spiffeid.TrustDomain { return p.td }

// Match reports whether id matches p.
func (p Pattern) Match(id spiffeid.ID) bool {
	if id.IsZero() || id.TrustDomain() != p.td {
		return false
	}
	path := strings.TrimPrefix(id.Path(), "/")
	var segs []string
	if path != "" {
		segs = strings.Split(path, "/")
	}
	switch {
	case p.prefix && len(segs) <= len(p.segs):
		return false
	case !p.prefix && len(segs) != len(p.segs):
		return false
	}
	for i, s := range p.segs {
		if s != "*" && s != segs[i] {
			return false
		}
	}
	return true
}

// Authorizer decides whether a verified peer ID may connect.
type Authorizer func(id spiffeid.ID) error

// ErrUnauthorized is returned (wrapped) for IDs an authorizer refuses.
var ErrUnauthorized = errors.New("spiffe ID not authorized")

// AllowPatterns authorizes the IDs that match any of ps.
func AllowPatterns(ps ...Pattern) Authorizer {
	ps = append([]Pattern(nil), ps...)
	return func(id spiffeid.ID) error {
		for _, p := range ps {
			if p.Match(id) {
				return nil
			}
		}
		return fmt.Errorf("%w: %s", ErrUnauthorized, id)
	}
}
