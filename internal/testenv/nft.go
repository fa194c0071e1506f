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
// ward and arp ward when present), counters blanked and the elements of
// hash sets sorted, to be compared with firewall.Ruleset.String; "" when
// Ward's table is absent. nft runs nft with its arguments where the
// tables are (a test's namespace) and returns its output.
func WardListing(nft func(args ...string) string) string {
	tables := nft("list", "tables")
	if !strings.Contains(tables, "table inet ward") {
		return ""
	}
	out := nft("list", "table", "inet", "ward")
	for _, family := range []string{"bridge", "arp"} {
		if strings.Contains(tables, "table "+family+" ward") {
			out += nft("list", "table", family, "ward")
		}
	}
	return SortHashElements(BlankCounters(out))
}

// SortHashElements sorts, in an `nft list` output of Ward's tables, the
// element lists of the sets the kernel keeps as hashes and lists in no
// fixed order (every set of tables bridge ward and arp ward, set bridges
// of the inet table), as firewall.Ruleset.String writes them (sorted):
// tests compare listings with it.
func SortHashElements(s string) string {
	lines := strings.Split(s, "\n")
	var table, block string
	for j := 0; j < len(lines); j++ {
		switch l := lines[j]; {
		case strings.HasPrefix(l, "table "):
			table, block = l, ""
		case strings.HasPrefix(l, "\tset ") || strings.HasPrefix(l, "\tmap ") || strings.HasPrefix(l, "\tchain "):
			block = l
		}
		hashed := table == "table bridge ward {" || table == "table arp ward {" ||
			table == "table inet ward {" && block == "\tset bridges {"
		if !hashed || !strings.HasPrefix(lines[j], "\t\telements = { ") {
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
	return strings.Join(lines, "\n")
}
