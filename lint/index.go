package lint

import (
	"slices"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// groupIndex finds the label groups of a namespace that a selector may
// match without testing every group: posting lists by label key and by
// key=value narrow the candidates, and the selector's own Matches confirms
// each one, so matching semantics are never re-implemented here.
type groupIndex struct {
	// byKV and byK hold, ascending, the positions in linter.groups[ns]
	// of the groups with label key=value (byKV) or with key (byK,
	// value "").
	byKV map[nsLabel][]int32
	byK  map[nsLabel][]int32
}

// nsLabel is a label key and value within a namespace.
type nsLabel struct{ ns, key, value string }

// newGroupIndex indexes groups, the label groups of each namespace.
func newGroupIndex(groups map[string][]*labelGroup) *groupIndex {
	ix := &groupIndex{byKV: map[nsLabel][]int32{}, byK: map[nsLabel][]int32{}}
	for ns, gs := range groups {
		for i, g := range gs {
			for k, v := range g.labels {
				ix.byKV[nsLabel{ns, k, v}] = append(ix.byKV[nsLabel{ns, k, v}], int32(i)) // #nosec G115 -- positions count input objects, far below 2^31
				ix.byK[nsLabel{ns, k, ""}] = append(ix.byK[nsLabel{ns, k, ""}], int32(i)) // #nosec G115 -- as above
			}
		}
	}
	return ix
}

// candidates returns, ascending, the positions of the groups of namespace
// ns that the most selective positive requirement of sel (Equals, In or
// Exists) admits: a superset of those sel matches. ok is false when sel
// has no positive requirement (empty selectors, or only NotIn and
// DoesNotExist), which leaves every group a candidate.
func (ix *groupIndex) candidates(ns string, sel labels.Selector) (cand []int32, ok bool) {
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		var list []int32
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			vals := r.Values().UnsortedList()
			if len(vals) == 1 {
				list = ix.byKV[nsLabel{ns, r.Key(), vals[0]}]
				break
			}
			for _, v := range vals {
				list = append(list, ix.byKV[nsLabel{ns, r.Key(), v}]...)
			}
			slices.Sort(list) // a group has one value per key: no repeats
		case selection.Exists:
			list = ix.byK[nsLabel{ns, r.Key(), ""}]
		default:
			continue
		}
		if !ok || len(list) < len(cand) {
			cand, ok = list, true
		}
	}
	return cand, ok
}
