// Package live is `ward watch`'s view for people on a terminal: the
// busiest conversations (by connections, then bytes), drops by the rule
// or reason that dropped them, and the latest alert reports, redrawn in
// place every second. It keeps a bounded amount whatever the traffic:
// conversations beyond MaxTalkers and rules beyond MaxRules are summed,
// not tracked.
package live
