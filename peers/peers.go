package peers

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Peer names an auditor whose checks the table maps.
type Peer string

// The peers, as their ids' prefixes spell them.
const (
	KubeLinter Peer = "kube-linter"
	Polaris    Peer = "polaris"
	Trivy      Peer = "trivy"
	Hadolint   Peer = "hadolint"
	KICS       Peer = "kics"
	Docker     Peer = "docker"
)

// All lists the peers in documentation order.
var All = []Peer{KubeLinter, Polaris, Trivy, Hadolint, KICS, Docker}

// Title is the peer's name as its documentation writes it.
func (p Peer) Title() string {
	switch p {
	case KubeLinter:
		return "kube-linter"
	case Polaris:
		return "Polaris"
	case Trivy:
		return "Trivy (KSV, KCV, DS)"
	case Hadolint:
		return "hadolint (DL)"
	case KICS:
		return "KICS"
	case Docker:
		return "Docker build checks"
	}
	return string(p)
}

// Relation says how Ward's rules relate to a peer check.
type Relation string

// The relations.
const (
	// Equivalent: Ward's rules flag what the peer flags, no more, no less
	// (up to details the Why, when set, states).
	Equivalent Relation = "equivalent"
	// Broader: Ward's rules flag everything the peer flags, and more.
	Broader Relation = "broader"
	// Narrower: Ward's rules flag part of what the peer flags.
	Narrower Relation = "narrower"
	// Different: Ward's rules judge the same concern by other semantics.
	Different Relation = "different"
	// Left: no Ward rule; the check is left to the peer, for the reason
	// its Left and Why give.
	Left Relation = "left"
)

// Covered reports whether Ward has rules for a check of this relation.
func (r Relation) Covered() bool { return r != Left }

// Reason classifies why a check is left to its peer.
type Reason string

// The reasons a check is left to its peer.
const (
	Style       Reason = "style"
	NotSecurity Reason = "not security"
	Correctness Reason = "correctness"
	Obsolete    Reason = "obsolete"
	// NotRead: the check is about an object or setting Ward does not read
	// (cluster configuration, OpenShift SecurityContextConstraints).
	NotRead Reason = "not read"
)

// Check is one security check of a peer and Ward's rules for it.
type Check struct {
	Peer Peer
	// ID is the canonical spelling (see the package documentation).
	ID string
	// UUID is a KICS query's id, when recorded.
	UUID  string
	Title string
	// Relation and Rules: the Ward rule ids that cover the check (none
	// when Left).
	Relation Relation
	Rules    []string
	// Left classifies why a Left check has no Ward rule.
	Left Reason
	// Why explains a relation other than Equivalent: what differs, and
	// why Ward judges as it does, or why the check is left to the peer.
	Why string
	// Fixture names the test fixture of a covered check: a positive input
	// that raises one of Rules and a negative one that raises none
	// (testdata/<fixture>.txtar).
	Fixture string
}

// Checks returns the table, in documentation order: by peer, then as
// listed. The result is a copy.
func Checks() []Check {
	out := make([]Check, len(table))
	for i, c := range table {
		c.Rules = slices.Clone(c.Rules)
		out[i] = c
	}
	return out
}

// index maps every accepted spelling's key to the table's row.
var index = func() map[string]int {
	m := map[string]int{}
	add := func(k string, i int) {
		if j, dup := m[k]; dup && j != i {
			panic(fmt.Sprintf("peers: %s names both %s and %s", k, table[j].ID, table[i].ID))
		}
		m[k] = i
	}
	for i, c := range table {
		add(key(c.ID), i)
		if c.UUID != "" {
			add(key(c.UUID), i)
		}
	}
	return m
}()

var (
	trivyID = regexp.MustCompile(`(?i)^(?:trivy:)?(?:avd-)?(ksv|kcv|ds)-?([0-9]+)$`)
	dlID    = regexp.MustCompile(`(?i)^(?:hadolint:)?(dl[0-9]{4})$`)
	uuidID  = regexp.MustCompile(`(?i)^(?:kics:)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
)

// key normalises an id as users write it to the table's spelling:
// Trivy's KSV014, AVD-KSV-0014 and trivy:ksv-0014 all become KSV-0014
// (numbers of fewer than four digits are padded, as Trivy renamed them),
// hadolint:DL3002 becomes DL3002, a KICS UUID is lower-cased without its
// prefix. Other ids are kept as written: kube-linter, Polaris, Docker and
// KICS query names are case-sensitive in their tools.
func key(id string) string {
	id = strings.TrimSpace(id)
	if m := trivyID.FindStringSubmatch(id); m != nil {
		n := m[2]
		if len(n) < 4 {
			n = strings.Repeat("0", 4-len(n)) + n
		}
		return strings.ToUpper(m[1]) + "-" + n
	}
	if m := dlID.FindStringSubmatch(id); m != nil {
		return strings.ToUpper(m[1])
	}
	if m := uuidID.FindStringSubmatch(id); m != nil {
		return strings.ToLower(m[1])
	}
	return id
}

// Lookup returns the check an id names, in any accepted spelling.
func Lookup(id string) (Check, bool) {
	i, ok := index[key(id)]
	if !ok {
		return Check{}, false
	}
	c := table[i]
	c.Rules = slices.Clone(c.Rules)
	return c, true
}

// Suggest returns the prefixed spellings of a bare name that the table
// knows ("run-as-non-root": "kube-linter:run-as-non-root"), for error
// messages.
func Suggest(name string) []string {
	var out []string
	for _, p := range []Peer{KubeLinter, Polaris, Docker} {
		if c, ok := Lookup(string(p) + ":" + name); ok {
			out = append(out, c.ID)
		}
	}
	return out
}

// Equivalents returns the canonical ids of the checks that rule is
// Equivalent to, sorted: what finding.Rule.Equivalents should list.
func Equivalents(rule string) []string {
	var out []string
	for _, c := range table {
		if c.Relation == Equivalent && slices.Contains(c.Rules, rule) {
			out = append(out, c.ID)
		}
	}
	slices.Sort(out)
	return out
}
