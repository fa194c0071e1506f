package dockerinv

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// TestPublished reads the ports the host publishes from an inspected
// container as the Engine reports them: one entry per host port and
// protocol whatever the host addresses (0.0.0.0 and :: together), exposed
// ports without a binding left out, sorted.
func TestPublished(t *testing.T) {
	port := func(s string) network.Port {
		p, err := network.ParsePort(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	any4, any6 := netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::")
	d := &container.InspectResponse{NetworkSettings: &container.NetworkSettings{Ports: network.PortMap{
		port("80/tcp"):   {{HostIP: any4, HostPort: "8080"}, {HostIP: any6, HostPort: "8080"}},
		port("53/udp"):   {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "5353"}},
		port("9100/tcp"): nil,                            // exposed, not published
		port("7000/tcp"): {{HostIP: any4, HostPort: ""}}, // not bound yet
	}}}
	want := []firewall.Published{
		{HostPort: 5353, Port: 53, Protocol: portset.UDP},
		{HostPort: 8080, Port: 80, Protocol: portset.TCP},
	}
	if diff := cmp.Diff(want, published(d)); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if got := published(&container.InspectResponse{}); got != nil {
		t.Errorf("no network settings: %v", got)
	}
}
