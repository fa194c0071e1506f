package suppress

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wardsec/ward/peers"
	"github.com/wardsec/ward/srcpos"
)

// Warning is a remark about an ignore entry that is accepted, with its
// place in ward.yaml.
type Warning struct {
	File string
	Line int
	Msg  string
}

func (w Warning) String() string { return srcpos.At(w.File, w.Line, "%s", w.Msg).Error() }

// Resolve checks the rule of every entry against the rule ids Ward
// reports (known) and the peers' checks, so that a team moving from
// kube-linter, Polaris, Trivy, hadolint or KICS keeps its ignore list:
//
//   - a Ward rule id, or a pattern that matches one, is kept as is;
//   - a peer check id that Ward covers with equivalent rules silences
//     exactly those rules (Ignore.Rules);
//   - one that Ward covers differently (flags more, less, or by other
//     semantics) silences the rules it maps to, with a warning saying so;
//   - one that Ward leaves to the peer silences nothing: the entry is
//     dropped, with a warning, rather than reported as stale;
//   - anything else is an error naming the entry's file and line.
func Resolve(igs []Ignore, known []string) ([]Ignore, []Warning, error) {
	var out []Ignore
	var warns []Warning
	for _, ig := range igs {
		if slices.Contains(known, ig.Rule) {
			out = append(out, ig)
			continue
		}
		if strings.ContainsAny(ig.Rule, "*?") {
			if !slices.ContainsFunc(known, func(id string) bool { return wildcard(ig.Rule, id) }) {
				return nil, nil, srcpos.At(ig.File, ig.Line, "ignore: pattern %q matches no rule of Ward (docs/rules.md lists them)", ig.Rule)
			}
			out = append(out, ig)
			continue
		}
		c, ok := peers.Lookup(ig.Rule)
		if !ok {
			msg := fmt.Sprintf("ignore: unknown rule %q: not a rule of Ward, nor a check of kube-linter, Polaris, Trivy, hadolint, KICS or Docker that docs/rules.md maps", ig.Rule)
			if s := peers.Suggest(ig.Rule); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return nil, nil, srcpos.At(ig.File, ig.Line, "%s", msg)
		}
		var rules []string
		for _, r := range c.Rules {
			if slices.Contains(known, r) {
				rules = append(rules, r)
			}
		}
		name := fmt.Sprintf("%s (%s: %s)", ig.Rule, c.Peer.Title(), c.Title)
		switch {
		case c.Relation == peers.Left:
			warns = append(warns, Warning{ig.File, ig.Line, fmt.Sprintf("ignore of %s suppresses nothing: Ward leaves this check to %s (%s). %s", name, c.Peer.Title(), c.Left, c.Why)})
			continue
		case len(rules) == 0:
			warns = append(warns, Warning{ig.File, ig.Line, fmt.Sprintf("ignore of %s suppresses nothing: the rule it maps to (%s) is not in this version of Ward", name, strings.Join(c.Rules, ", "))})
			continue
		case c.Relation != peers.Equivalent:
			warns = append(warns, Warning{ig.File, ig.Line, fmt.Sprintf("ignore of %s suppresses %s, which Ward covers differently (%s): %s", name, strings.Join(rules, ", "), c.Relation, c.Why)})
		}
		ig.Rules = rules
		out = append(out, ig)
	}
	return out, warns, nil
}
