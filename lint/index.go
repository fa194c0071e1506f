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
type groupIndex map[string]*nsIndex

// nsIndex is the index of one namespace's groups: byKV and byK hold,
// ascending, the positions in linter.groups[ns] of the groups with label
// key=value (byKV) or with key (byK).
type nsIndex struct {
	byKV map[keyValue][]int32
	byK  map[string][]int32
}

// keyValue is a label.
type keyValue struct{ key, value string }

// newGroupIndex indexes groups, the label groups of each namespace of
// nsNames, namespaces in parallel.
func newGroupIndex(nsNames []string, groups map[string][]*labelGroup) groupIndex {
	idx := make([]*nsIndex, len(nsNames))
	forEach(len(nsNames), func(i int) { idx[i] = newNSIndex(groups[nsNames[i]]) })
	ix := make(groupIndex, len(nsNames))
	for i, ns := range nsNames {
		ix[ns] = idx[i]
	}
	return ix
}

// newNSIndex indexes the groups of one namespace.
func newNSIndex(gs []*labelGroup) *nsIndex {
	ix := &nsIndex{byKV: map[keyValue][]int32{}, byK: map[string][]int32{}}
	for i, g := range gs {
		for k, v := range g.labels {
			ix.byKV[keyValue{k, v}] = append(ix.byKV[keyValue{k, v}], int32(i)) // #nosec G115 -- positions count input objects, far below 2^31
			ix.byK[k] = append(ix.byK[k], int32(i))                             // #nosec G115 -- as above
		}
	}
	return ix
}

// candidates returns, ascending, the positions of the groups of namespace
// ns that the most selective positive requirement of sel (Equals, In or
// Exists) admits: a superset of those sel matches. ok is false when sel
// has no positive requirement (empty selectors, or only NotIn and
// DoesNotExist), which leaves every group a candidate.
func (ix groupIndex) candidates(ns string, sel labels.Selector) (cand []int32, ok bool) {
	nx := ix[ns]
	if nx == nil {
		return nil, false
	}
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		var list []int32
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			vals := r.ValuesUnsorted()
			if len(vals) == 1 {
				list = nx.byKV[keyValue{r.Key(), vals[0]}]
				break
			}
			for _, v := range vals {
				list = append(list, nx.byKV[keyValue{r.Key(), v}]...)
			}
			slices.Sort(list)
			list = slices.Compact(list) // values may repeat
		case selection.Exists:
			list = nx.byK[r.Key()]
		default:
			continue
		}
		if !ok || len(list) < len(cand) {
			cand, ok = list, true
		}
	}
	return cand, ok
}
