package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/peers"
)

// TestPeersTable keeps the migration table (package peers) and the rule
// registries in step, both ways: every Ward rule the table names exists
// (or is pending on another branch), and every rule's Equivalents are
// exactly the peer checks the table calls equivalent to it.
func TestPeersTable(t *testing.T) {
	rules := map[string][]string{}
	for _, r := range allRules() {
		rules[r.ID] = r.Equivalents
	}
	for _, c := range peers.Checks() {
		if got, ok := peers.Lookup(c.ID); !ok || got.ID != c.ID {
			t.Errorf("Lookup(%s) = %s, %v", c.ID, got.ID, ok)
		}
		switch {
		case c.Relation == peers.Left && (len(c.Rules) > 0 || c.Left == "" || c.Why == ""):
			t.Errorf("%s is left to %s but has rules %v, reason %q, why %q", c.ID, c.Peer, c.Rules, c.Left, c.Why)
		case c.Relation.Covered() && len(c.Rules) == 0:
			t.Errorf("%s is %s but names no Ward rule", c.ID, c.Relation)
		case c.Relation.Covered() && c.Relation != peers.Equivalent && c.Why == "":
			t.Errorf("%s is %s without saying why", c.ID, c.Relation)
		}
		for _, r := range c.Rules {
			if _, ok := rules[r]; !ok && !peers.IsPending(r) {
				t.Errorf("%s maps to %s, which is no rule of Ward", c.ID, r)
			}
		}
	}
	for _, p := range peers.Pending {
		if _, ok := rules[p]; ok {
			t.Errorf("%s is registered now: remove it from peers.Pending", p)
		}
	}
	for id, eqs := range rules {
		want := peers.Equivalents(id)
		got := slices.Sorted(slices.Values(eqs))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Equivalents of %s disagree with the peers table (-table +registry):\n%s", id, diff)
		}
		for _, e := range eqs {
			if strings.TrimSpace(e) != e || e == "" {
				t.Errorf("%s: equivalent %q is not a canonical id", id, e)
			}
		}
	}
}
