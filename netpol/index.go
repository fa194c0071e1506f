package netpol

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/wardsec/ward/manifest"
)

// labelClass is the set of workloads that share a namespace and a label
// set: no selector can tell them apart. hostNetwork workloads have none.
type labelClass struct {
	id     int32
	ns     string
	labels labels.Set
	// Filled by Compile: policies selecting the class per direction, and
	// selector peers matching it.
	policies [2][]int32
	peers    []int32
}

// labelIndex finds the label classes a selector matches without testing
// every class: an inverted index narrows the candidates, and apimachinery's
// own matcher confirms each one, so matching semantics are never
// re-implemented here.
type labelIndex struct {
	classes []*labelClass
	byNS    map[string][]int32
	byKV    map[string][]int32 // "k\x00v" over all namespaces
	byK     map[string][]int32
	// The same per namespace, keyed "ns\x00k\x00v" and "ns\x00k", so that
	// a selector in one namespace (a policy's podSelector, a peer without
	// namespaceSelector) looks only at that namespace's classes: with
	// cluster-wide labels such as tier=web, filtering the cluster-wide
	// lists by namespace made compile quadratic.
	nsKV  map[string][]int32
	nsK   map[string][]int32
	cache map[string][]int32
}

func labelKey(ns string, l map[string]string) string {
	var b strings.Builder
	b.WriteString(ns)
	for _, k := range slices.Sorted(maps.Keys(l)) {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(1)
		b.WriteString(l[k])
	}
	return b.String()
}

func newLabelIndex(ws []*manifest.Workload) (*labelIndex, map[*manifest.Workload]*labelClass) {
	ix := &labelIndex{
		byNS:  map[string][]int32{},
		byKV:  map[string][]int32{},
		byK:   map[string][]int32{},
		nsKV:  map[string][]int32{},
		nsK:   map[string][]int32{},
		cache: map[string][]int32{},
	}
	of := make(map[*manifest.Workload]*labelClass, len(ws))
	byKey := map[string]*labelClass{}
	for _, w := range ws {
		if w.HostNetwork {
			continue
		}
		key := labelKey(w.Namespace, w.Labels)
		c := byKey[key]
		if c == nil {
			c = &labelClass{id: int32(len(ix.classes)), ns: w.Namespace, labels: labels.Set(w.Labels)} // #nosec G115 -- ids count input objects, far below 2^31
			if c.labels == nil {
				c.labels = labels.Set{}
			}
			byKey[key] = c
			ix.classes = append(ix.classes, c)
			ix.byNS[c.ns] = append(ix.byNS[c.ns], c.id)
			for k, v := range c.labels {
				ix.byKV[k+"\x00"+v] = append(ix.byKV[k+"\x00"+v], c.id)
				ix.byK[k] = append(ix.byK[k], c.id)
				nk := c.ns + "\x00" + k
				ix.nsKV[nk+"\x00"+v] = append(ix.nsKV[nk+"\x00"+v], c.id)
				ix.nsK[nk] = append(ix.nsK[nk], c.id)
			}
		}
		of[w] = c
	}
	return ix, of
}

// candidates returns the smallest posting list implied by a positive
// requirement of sel, or nil, false when sel has none (empty selectors and
// selectors made only of NotIn and DoesNotExist).
func (ix *labelIndex) candidates(sel labels.Selector) ([]int32, bool) {
	return candidates(sel, ix.byKV, ix.byK, "")
}

// candidates is labelIndex.candidates on the posting lists byKV and byK,
// whose keys start with prefix.
func candidates(sel labels.Selector, byKV, byK map[string][]int32, prefix string) ([]int32, bool) {
	reqs, _ := sel.Requirements()
	var best []int32
	found := false
	for _, r := range reqs {
		var list []int32
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			vals := r.Values().UnsortedList()
			if len(vals) == 1 {
				list = byKV[prefix+r.Key()+"\x00"+vals[0]]
			} else {
				for _, v := range vals {
					list = append(list, byKV[prefix+r.Key()+"\x00"+v]...)
				}
				slices.Sort(list)
			}
		case selection.Exists:
			list = byK[prefix+r.Key()]
		default:
			continue
		}
		if !found || len(list) < len(best) {
			best, found = list, true
		}
	}
	return best, found
}

// match returns the ids, ascending, of the classes whose namespace is
// accepted by inNS and whose labels sel matches. nsList, when not nil, is
// the full list of accepted namespaces, used when the index cannot narrow
// by labels.
func (ix *labelIndex) match(sel labels.Selector, inNS func(string) bool, nsList []string) []int32 {
	var out []int32
	if cand, ok := ix.candidates(sel); ok {
		if nsList != nil && 16*len(nsList) <= len(cand) {
			// The accepted namespaces' own lists, when shorter in all
			// than the cluster-wide one (looking them up costs a few
			// map lookups per namespace: only worth it for a few).
			lists := make([][]int32, 0, len(nsList))
			n := 0
			for _, ns := range nsList {
				l, _ := candidates(sel, ix.nsKV, ix.nsK, ns+"\x00")
				lists = append(lists, l)
				n += len(l)
			}
			if n < len(cand) {
				for _, l := range lists {
					for _, id := range l {
						if sel.Matches(ix.classes[id].labels) {
							out = append(out, id)
						}
					}
				}
				slices.Sort(out)
				return out
			}
		}
		for _, id := range cand {
			c := ix.classes[id]
			if inNS(c.ns) && sel.Matches(c.labels) {
				out = append(out, id)
			}
		}
		return out
	}
	for _, ns := range nsList {
		for _, id := range ix.byNS[ns] {
			if sel.Matches(ix.classes[id].labels) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// inNamespace returns the classes of namespace ns that sel matches.
func (ix *labelIndex) inNamespace(ns string, sel labels.Selector) []int32 {
	key := ns + "\x00" + sel.String()
	if r, ok := ix.cache[key]; ok {
		return r
	}
	var r []int32
	if cand, ok := candidates(sel, ix.nsKV, ix.nsK, ns+"\x00"); ok {
		for _, id := range cand {
			if sel.Matches(ix.classes[id].labels) {
				r = append(r, id)
			}
		}
	} else {
		for _, id := range ix.byNS[ns] {
			if sel.Matches(ix.classes[id].labels) {
				r = append(r, id)
			}
		}
	}
	ix.cache[key] = r
	return r
}
