package testenv

import (
	"slices"
	"strings"
)

// SortBridgeElements sorts, in an `nft list` output, the element lists of the bridge table, which
// the kernel keeps in hash sets and lists in no fixed order, as
// firewall.Ruleset.String writes them (sorted): tests compare listings
// with it.
func SortBridgeElements(s string) string {
	i := strings.Index(s, "table bridge ward {")
	if i < 0 {
		return s
	}
	lines := strings.Split(s[i:], "\n")
	for j := 0; j < len(lines); j++ {
		if !strings.HasPrefix(lines[j], "\t\telements = { ") {
			continue
		}
		k := j
		for !strings.HasSuffix(lines[k], " }") {
			k++
		}
		var elems []string
		for _, l := range lines[j : k+1] {
			l = strings.TrimPrefix(strings.TrimSpace(l), "elements = { ")
			elems = append(elems, strings.TrimSuffix(strings.TrimSuffix(l, " }"), ","))
		}
		slices.Sort(elems)
		for m, e := range elems {
			prefix, suffix := "\t\t\t     ", ","
			if m == 0 {
				prefix = "\t\telements = { "
			}
			if m == len(elems)-1 {
				suffix = " }"
			}
			lines[j+m] = prefix + e + suffix
		}
		j = k
	}
	return s[:i] + strings.Join(lines, "\n")
}
