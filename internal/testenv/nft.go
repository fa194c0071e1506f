package testenv

import (
	"regexp"
	"slices"
	"strings"
)

var counterValues = regexp.MustCompile(`counter packets \d+ bytes \d+`)

// BlankCounters writes the counters of an `nft list` output without their
// values, as firewall.Ruleset.String writes them.
func BlankCounters(s string) string { return counterValues.ReplaceAllString(s, "counter") }

// WardListing is how nft lists Ward's tables (inet ward, then bridge
// ward when present), counters blanked and bridge elements sorted, to be
// compared with firewall.Ruleset.String; "" when Ward's table is absent.
// nft runs nft with its arguments where the tables are (a test's
// namespace) and returns its output.
func WardListing(nft func(args ...string) string) string {
	tables := nft("list", "tables")
	if !strings.Contains(tables, "table inet ward") {
		return ""
	}
	out := nft("list", "table", "inet", "ward")
	if strings.Contains(tables, "table bridge ward") {
		out += nft("list", "table", "bridge", "ward")
	}
	return SortBridgeElements(BlankCounters(out))
}

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
