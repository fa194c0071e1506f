package proxy

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/wardsec/ward/guard/spiffeauth"
)

// countingBundles is a bundle source that counts its look-ups.
type countingBundles struct {
	x509bundle.Source
	n atomic.Int64
}

func (c *countingBundles) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	c.n.Add(1)
	return c.Source.GetX509BundleForTrustDomain(td)
}

// BenchmarkReapSPIFFETunnels: one look of the reaper (every 100 ms) over
// tunnels to an upstream verified with SPIFFE, opened under two bundle
// versions (a rotation that added a CA). The bundle is looked up once
// per look and per version, not once per tunnel (lookups/op).
func BenchmarkReapSPIFFETunnels(b *testing.B) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	ca1, err := spiffeauth.NewDevCA(td, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	ca2, err := spiffeauth.NewDevCA(td, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(n, "tunnels"), func(b *testing.B) {
			src := &countingBundles{Source: x509bundle.NewSet(ca1.Bundle())}
			trust := &spiffeTrust{src: src, tds: []spiffeid.TrustDomain{td}}
			ref := &upstreamRef{where: "https://db", spiffe: trust}
			s := &connSet{tunnels: map[net.Conn]*tunnelInfo{}}
			add := func(count int) {
				for range count {
					c, _ := net.Pipe()
					fwd := new(forwarded)
					fwd.upstream.Store(ref.opened())
					s.tunnels[c] = &tunnelInfo{start: time.Now(), fwd: fwd}
				}
			}
			add(n / 2)
			trust.src = &countingBundles{Source: x509bundle.NewSet(x509bundle.FromX509Authorities(td, append(ca1.Bundle().X509Authorities(), ca2.Bundle().X509Authorities()...)))}
			src = trust.src.(*countingBundles)
			add(n - n/2)
			cur := func() *Proxy { return nil }
			src.n.Store(0)
			b.ResetTimer()
			for b.Loop() {
				s.reap(0, cur)
			}
			b.ReportMetric(float64(src.n.Load())/float64(b.N), "lookups/op")
			for c := range s.tunnels {
				if c.SetDeadline(time.Time{}) != nil {
					b.Fatal("a tunnel whose CAs are all still trusted was closed")
				}
			}
		})
	}
}
