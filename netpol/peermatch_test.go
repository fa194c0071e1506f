package netpol

import (
	"math/rand/v2"
	"testing"

	"github.com/wardsec/ward/internal/refeval"
)

// TestPeerMatches checks that peerMatches, the verdict PeerMatches asks
// for every endpoint, agrees with peerMatch, which Explain uses with its
// reason, for every peer of every rule and every endpoint of random
// clusters.
func TestPeerMatches(t *testing.T) {
	for seed := range uint64(300) {
		set, err := refeval.RandomSet(rand.New(rand.NewPCG(seed, 4)))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		e, err := Compile(set)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		n := 0
		for _, pol := range e.polOf {
			for _, rs := range pol.rules {
				for _, r := range rs {
					for _, p := range r.peers {
						for _, ep := range e.endpoints {
							want, _ := e.peerMatch(pol, p, ep)
							if got := e.peerMatches(p, ep); got != want {
								t.Fatalf("seed %d: peer %d, endpoint %s: peerMatches says %v, peerMatch %v", seed, p.id, ep.ID, got, want)
							}
							n++
						}
					}
				}
			}
		}
		if seed == 0 && n == 0 {
			t.Fatal("no peer and endpoint compared")
		}
	}
}
