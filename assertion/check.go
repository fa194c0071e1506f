package assertion

import (
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/ipset"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// MaxViolations bounds the failing pairs a Result keeps in detail.
const MaxViolations = 5

// Result is the outcome of one assertion.
type Result struct {
	Assertion *Assertion `json:"-"`
	Name      string     `json:"name"`
	Line      int        `json:"line"`
	Expect    Expect     `json:"expect"`
	Passed    bool       `json:"passed"`
	// Undecided is set when a pair that would pass depends on the labels
	// of a namespace the input does not declare (Reason says which): the
	// assertion is neither passed nor failed.
	Undecided bool `json:"undecided,omitempty"`
	// Reason says why it failed, in one line.
	Reason string `json:"reason,omitempty"`
	// Pairs is how many (source, destination) pairs were checked.
	Pairs int `json:"pairs"`
	// Failed counts failing pairs; Violations holds the first few.
	Failed     int         `json:"failed"`
	Violations []Violation `json:"violations,omitempty"`
}

// Violation is one pair that breaks an assertion, with the explain trace
// of its first offending port.
type Violation struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Ports are the ports that break it: allowed ones for deny, missing
	// ones for allow.
	Ports       portset.Set         `json:"ports"`
	Explanation *netpol.Explanation `json:"explanation"`
}

// Check evaluates every assertion of cfg.
func Check(eng *netpol.Engine, cfg *Config) []Result {
	out := make([]Result, 0, len(cfg.Assertions))
	risky := UnknownLabelPolicies(eng.Set())
	for _, a := range cfg.Assertions {
		out = append(out, checkOne(eng, risky, a))
	}
	return out
}

func pick(eng *netpol.Engine, s Selector) []*netpol.Endpoint {
	var out []*netpol.Endpoint
	for _, ep := range eng.Endpoints() {
		if s.CIDR.IsValid() {
			if ep.IsExternal() && overlaps(ep.External, s.CIDR) {
				out = append(out, ep)
			}
			continue
		}
		if ep.IsExternal() {
			continue
		}
		w := ep.Workload
		if s.Namespace != "" && w.Namespace != s.Namespace {
			continue
		}
		if s.Labels != nil && !s.Labels.Matches(labels.Set(w.Labels)) {
			continue
		}
		out = append(out, ep)
	}
	return out
}

// unmatchedValue returns why a value of an In requirement of s selects
// nothing, or "". Each value is an alternative the assertion claims to
// check: with a typo ("app In [postgres, rediss]") the side still matches
// postgres, and "web never reaches the stores" passed while web reached
// redis. A side whose every value matches is checked in full.
func unmatchedValue(eng *netpol.Engine, s Selector) string {
	if s.Labels == nil {
		return ""
	}
	reqs, _ := s.Labels.Requirements()
	for i, r := range reqs {
		if r.Operator() != selection.In || r.Values().Len() < 2 {
			continue // Equals and one-value In: a miss selects nothing at all
		}
		for _, v := range r.Values().List() {
			eq, err := labels.NewRequirement(r.Key(), selection.Equals, []string{v})
			if err != nil {
				continue
			}
			alt := labels.NewSelector()
			for j, o := range reqs {
				if j == i {
					o = *eq
				}
				alt = alt.Add(o)
			}
			probe := s
			probe.Labels = alt
			if len(pick(eng, probe)) == 0 {
				return fmt.Sprintf("value %q of %s matches nothing in the input (a typo checks nothing for it)", v, r.String())
			}
		}
	}
	return ""
}

func overlaps(set ipset.Set, p netip.Prefix) bool {
	r := ipset.FromPrefix(p)
	for _, x := range set.Ranges() {
		if x.From.BitLen() == r.From.BitLen() && !x.To.Less(r.From) && !r.To.Less(x.From) {
			return true
		}
	}
	return false
}

func checkOne(eng *netpol.Engine, risky []*manifest.Policy, a *Assertion) Result {
	res := Result{Assertion: a, Name: a.Name, Line: a.Line, Expect: a.Expect, Passed: true}
	from, to := pick(eng, a.From), pick(eng, a.To)
	switch {
	case len(from) == 0:
		res.Passed = false
		res.Reason = fmt.Sprintf("from (%s) matches nothing in the input", a.From)
		return res
	case len(to) == 0:
		res.Passed = false
		res.Reason = fmt.Sprintf("to (%s) matches nothing in the input", a.To)
		return res
	}
	for _, side := range []struct {
		name string
		sel  Selector
	}{{"from", a.From}, {"to", a.To}} {
		if why := unmatchedValue(eng, side.sel); why != "" {
			res.Passed = false
			res.Reason = fmt.Sprintf("%s (%s): %s", side.name, side.sel, why)
			return res
		}
	}
	for _, s := range from {
		for _, d := range to {
			if s == d && s.Workload != nil && s.Workload.Kind == "Pod" {
				continue // a bare pod always reaches itself
			}
			res.Pairs++
			allowed := eng.Allowed(s, d)
			var bad portset.Set
			switch a.Expect {
			case Deny:
				bad = allowed
				if !a.Ports.Empty() {
					bad = allowed.Intersect(a.Ports)
				}
			case Allow:
				if a.Ports.Empty() {
					if allowed.Empty() {
						bad = portset.All
					}
				} else {
					bad = a.Ports.Subtract(allowed)
				}
			}
			if bad.Empty() {
				if why := unknownLabels(eng.Set(), risky, s, d); why != "" && !res.Undecided {
					res.Undecided = true
					res.Reason = fmt.Sprintf("undecided for %s -> %s: %s; declare it (a Namespace object with its labels, also through --workloads)", s.ID, d.ID, why)
				}
				continue
			}
			res.Failed++
			if len(res.Violations) < MaxViolations {
				first := bad.Ranges()[0]
				q := portset.Port(first.Proto, first.Lo)
				if a.Expect == Allow && a.Ports.Empty() {
					q = portset.Set{}
				}
				res.Violations = append(res.Violations, Violation{
					From: s.ID, To: d.ID, Ports: bad, Explanation: eng.Explain(s, d, q),
				})
			}
		}
	}
	if res.Pairs == 0 {
		res.Passed = false
		res.Reason = "from and to select only the same bare pod: nothing to check"
		return res
	}
	if res.Failed > 0 {
		res.Passed = false
		verb := "allowed"
		if a.Expect == Allow {
			verb = "denied"
		}
		res.Reason = fmt.Sprintf("%d of %d pairs are %s (expected %s)", res.Failed, res.Pairs, verb, a.Expect)
		res.Undecided = false
		return res
	}
	if !res.Undecided {
		for _, side := range []struct {
			name string
			sel  Selector
		}{{"from", a.From}, {"to", a.To}} {
			if why := unmodelledPods(eng.Set(), side.sel); why != "" {
				res.Undecided = true
				res.Reason = fmt.Sprintf("%s (%s): %s; assert on the pods themselves (a dump of the cluster) or narrow the side", side.name, side.sel, why)
				break
			}
		}
	}
	if res.Undecided {
		res.Passed = false
	}
	return res
}

// Rules describes the findings of failed assertions.
var Rules = []finding.Rule{
	{ID: "assert/failed", Severity: finding.High,
		Summary:   "A reachability assertion of ward.yaml does not hold: a flow expected to be denied is allowed, or one expected to be allowed is denied.",
		Rationale: "Assertions state the team's intent (\"the database is never reachable from the web tier\"); a failure means the policies no longer match it. The finding carries the explain trace of the failing flows.",
		Fix:       "Change the NetworkPolicies so that the flow matches the assertion, or the assertion if the flow is intended."},
	{ID: "assert/no-match", Severity: finding.High,
		Summary:   "A side of a ward.yaml assertion selects no workload, so the assertion checks nothing.",
		Rationale: "An assertion that matches nothing passes vacuously and would hide a renamed namespace or label; Ward fails it instead.",
		Fix:       "Check the namespace and selector of the assertion against the workloads in the input."},
	{ID: RuleUndecided, Severity: finding.High,
		Summary: "The input holds policies Ward does not evaluate (Calico, Cilium, AdminNetworkPolicy, a Helm test hook) that ward.yaml has not acknowledged, or an assertion's verdict depends on the labels of a namespace the input does not declare, so assertions cannot be decided.",
		Rationale: "Such a policy may allow a flow an assertion forbids or deny one it requires: a passing assertion would be a verdict on input Ward did not read. " +
			"Only an ignore entry whose rule is input/unsupported-policy itself acknowledges one; a wildcard entry (\"*\", often narrowed to a vendored directory to silence its findings) does not, " +
			"as it says nothing about judging the assertions without the policy. " +
			"Likewise a side that holds the pods of a custom resource's pod spec (a KEDA ScaledJob, an Argo Workflow), which are not in the network model; and a namespace no Namespace object declares is given only its kubernetes.io/metadata.name label: a namespaceSelector on other labels ({team: web}) would match it on the cluster and not in the input, and a \"deny\" assertion would pass on a guess. ward assert exits 2 in these cases.",
		Fix: "Review each policy named and acknowledge it in ward.yaml: ignore: [{rule: input/unsupported-policy, object: <its object>, reason: <why the assertions hold without it>}]."},
}

// RuleUndecided is reported by ward check, at ward.yaml, when policies
// Ward does not evaluate leave its assertions undecided.
const RuleUndecided = "assert/undecided"

// Findings turns failed results into findings located in file.
func Findings(file string, rs []Result) []finding.Finding {
	var out []finding.Finding
	for _, r := range rs {
		if r.Passed {
			continue
		}
		rule := "assert/failed"
		switch {
		case r.Undecided:
			rule = RuleUndecided
		case r.Failed == 0:
			rule = "assert/no-match"
		}
		var b strings.Builder
		verb := "failed"
		if r.Undecided {
			verb = "cannot be decided"
		}
		fmt.Fprintf(&b, "assertion %q %s: %s", r.Name, verb, r.Reason)
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "\n  %s -> %s: %s", v.From, v.To, v.Ports)
			if q := v.Explanation.Port; q != "" && q != v.Ports.String() {
				fmt.Fprintf(&b, " (explained for %s)", q)
			}
			for _, line := range Trace(v.Explanation) {
				b.WriteString("\n    " + line)
			}
		}
		if r.Failed > len(r.Violations) {
			fmt.Fprintf(&b, "\n  ... and %d more pairs", r.Failed-len(r.Violations))
		}
		fix := "change the NetworkPolicies so the flow is denied, or the assertion if the flow is intended"
		if r.Expect == Allow {
			fix = "add an egress rule on the source and an ingress rule on the destination for these ports"
		}
		switch rule {
		case "assert/no-match":
			fix = "check the namespace and selector of the assertion against the workloads in the input"
		case RuleUndecided:
			fix = "declare the namespace named with the labels it has on the cluster (a Namespace object in the input, or given with --workloads), or assert on the pods a custom resource's operator creates (a dump of the cluster), as the message says"
		}
		out = append(out, finding.Finding{
			Rule: rule, Severity: finding.High, File: file, Line: r.Line,
			Object: r.Name, Message: b.String(), Fix: fix,
		})
	}
	return out
}

// Trace renders an explanation as short lines: the verdict of each side
// and the rules that decide it.
func Trace(x *netpol.Explanation) []string {
	var out []string
	for _, s := range []netpol.Side{x.Egress, x.Ingress} {
		verdict := "blocks"
		if s.Allows {
			verdict = "allows"
		}
		if !s.Isolated {
			out = append(out, fmt.Sprintf("%s of %s %s: %s", s.Direction, s.Endpoint, verdict, s.Note))
			continue
		}
		policies := "policies"
		if len(s.Policies) == 1 {
			policies = "policy"
		}
		out = append(out, fmt.Sprintf("%s of %s %s (isolated by %d %s)", s.Direction, s.Endpoint, verdict, len(s.Policies), policies))
		for _, p := range s.Policies {
			if len(p.Rules) == 0 {
				out = append(out, fmt.Sprintf("  %s (%s): no %s rules", p.Policy, location(p.File, p.Line), s.Direction))
			}
			for _, r := range p.Rules {
				mark := "-"
				if r.Applies {
					mark = "+"
				}
				detail := r.Reason
				if !r.PeerMatches {
					detail = r.Peer
				}
				out = append(out, fmt.Sprintf("  %s %s rule %d (%s): %s", mark, p.Policy, r.Index, location(p.File, r.Line), detail))
			}
		}
	}
	return out
}

// location is file:line, or file when the line is unknown (an object
// rendered by kustomize from a file it names).
func location(file string, line int) string {
	if line <= 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}
