package detect

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"

	"github.com/cespare/xxhash/v2"

	"github.com/wardsec/ward/watch/identity"
)

// podSeed seeds the hash of a pod's key (endKey).
var podSeed = rand.Uint64() // #nosec G404 -- unpredictable to senders suffices; not a secret of cryptographic strength

// ip16 is an address as a map key: 16 bytes and no pointer, so that
// tables of millions of keys cost the garbage collector nothing to scan
// (netip.Addr carries a zone pointer).
type ip16 [16]byte

func key16(a netip.Addr) ip16 { return a.Unmap().As16() }

func (k ip16) addr() netip.Addr { return netip.AddrFrom16(k).Unmap() }

// endKey is the key a scan or DNS window counts an end by: a resolved
// pod by its workload and name, so that a dual-stack pod's IPv4 and IPv6
// addresses are one client (counted by address, a scan or a tunnel
// split over both stayed under each threshold); another end (a workload
// claiming addresses without a pod, which may be several replicas') by
// its address.
// The key of a pod lies in 100::/64, the discard-only prefix (RFC
// 6666), which no flow's address should come from; hashed with a seed
// of this process's, so that a sender that does use such an address
// cannot compute a pod's key and share its count (its own queries
// counted as a pod's: the pod named as the tunnel or the scanner).
func endKey(a netip.Addr, w *identity.Workload, r identity.Resolution) ip16 {
	if r != identity.Resolved || w == nil || w.Pod == "" {
		return key16(a)
	}
	var d xxhash.Digest
	d.ResetWithSeed(podSeed)
	_, _ = d.WriteString(w.ID())
	_, _ = d.WriteString("\x00")
	_, _ = d.WriteString(w.Pod)
	var k ip16
	k[0], k[1] = 0x01, 0x00
	binary.BigEndian.PutUint64(k[8:], d.Sum64())
	return k
}

// table is a bounded map from keys to window states, its values in one
// slice (an index map and a free list) so that a lookup hashes once and a
// new key allocates nothing once the slice has grown.
type table[K comparable, V any] struct {
	idx  map[K]int32
	ents []entry[K, V]
	free []int32
	max  int
	// untracked counts new keys refused at the limit.
	untracked uint64
}

type entry[K comparable, V any] struct {
	key  K
	used bool
	v    V
}

func newTable[K comparable, V any](max int) *table[K, V] {
	return &table[K, V]{idx: map[K]int32{}, max: max}
}

// find returns the state of k, nil when it has none.
func (t *table[K, V]) find(k K) *V {
	if i, ok := t.idx[k]; ok {
		return &t.ents[i].v
	}
	return nil
}

// get returns the state of k, adding a zero one; nil when the table is
// full (counted).
func (t *table[K, V]) get(k K) *V {
	if i, ok := t.idx[k]; ok {
		return &t.ents[i].v
	}
	if len(t.idx) >= t.max {
		t.untracked++
		return nil
	}
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
		t.ents[i] = entry[K, V]{key: k, used: true}
	} else {
		i = int32(len(t.ents)) // #nosec G115 -- at most limits.maxTracked entries, validated to fit
		t.ents = append(t.ents, entry[K, V]{key: k, used: true})
	}
	t.idx[k] = i
	return &t.ents[i].v
}

// sweep deletes the entries drop reports done with.
func (t *table[K, V]) sweep(drop func(k *K, v *V) bool) {
	for i := range t.ents {
		e := &t.ents[i]
		if e.used && drop(&e.key, &e.v) {
			delete(t.idx, e.key)
			*e = entry[K, V]{}
			t.free = append(t.free, int32(i))
		}
	}
}

func (t *table[K, V]) len() int { return len(t.idx) }
