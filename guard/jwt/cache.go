package jwt

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache is a bounded LRU of verified tokens, keyed by the SHA-256 of
// the token so that the cache never holds a usable credential. Entries
// remember the issuer and key set they were verified with; the caller
// re-checks the time claims and the key set on every hit.
type tokenCache struct {
	mu   sync.Mutex
	max  int
	skew time.Duration // the verifier's: an entry is expired at exp+skew
	ll   *list.List    // of *cacheEntry, most recently used first
	m    map[[sha256.Size]byte]*list.Element
}

type cacheEntry struct {
	hash   [sha256.Size]byte
	claims *Claims
	iss    *issuer
	keys   *keySet
}

func newTokenCache(n int, skew time.Duration) *tokenCache {
	return &tokenCache{max: n, skew: skew, ll: list.New(), m: make(map[[sha256.Size]byte]*list.Element)}
}

// tokenHash hashes the token, copying a typical one (under 2 KiB) through
// a stack buffer rather than the heap.
func tokenHash(token string) [sha256.Size]byte {
	var buf [2048]byte
	return sha256.Sum256(append(buf[:0], token...))
}

func (c *tokenCache) get(h [sha256.Size]byte) (*Claims, *issuer, *keySet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[h]
	if !ok {
		return nil, nil, nil, false
	}
	c.ll.MoveToFront(el)
	e := el.Value.(*cacheEntry)
	return e.claims, e.iss, e.keys, true
}

func (c *tokenCache) remove(h [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[h]; ok {
		c.ll.Remove(el)
		delete(c.m, h)
	}
}

// add stores a verified token. Before making room it drops expired
// entries from the least recently used end (a few at a time, so add stays
// O(1)); expired entries elsewhere go on their next hit or when they reach
// that end.
func (c *tokenCache) add(h [sha256.Size]byte, claims *Claims, iss *issuer, ks *keySet, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[h]; ok {
		el.Value = &cacheEntry{hash: h, claims: claims, iss: iss, keys: ks}
		c.ll.MoveToFront(el)
		return
	}
	c.m[h] = c.ll.PushFront(&cacheEntry{hash: h, claims: claims, iss: iss, keys: ks})
	for i := 0; i < 4; i++ {
		back := c.ll.Back()
		if back == nil || now.Add(-c.skew).Before(back.Value.(*cacheEntry).claims.expiry) {
			break
		}
		c.removeElement(back)
	}
	for c.ll.Len() > c.max {
		c.removeElement(c.ll.Back())
	}
}

func (c *tokenCache) removeElement(el *list.Element) {
	c.ll.Remove(el)
	delete(c.m, el.Value.(*cacheEntry).hash)
}

func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
