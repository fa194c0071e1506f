package firewall_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/portset"
)

func parseSet(t *testing.T, doc string) *manifest.Set {
	t.Helper()
	set, err := manifest.Parse(manifest.Options{}, "lab.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const labManifests = `apiVersion: v1
kind: Pod
metadata: {name: known, namespace: x, labels: {app: known}}
spec:
  containers:
    - name: a
      ports: [{name: http, containerPort: 80}, {containerPort: 53, protocol: UDP}]
    - name: b
      ports: [{name: metrics, containerPort: 9100}]
status:
  podIP: 10.250.0.1
  podIPs: [{ip: 10.250.0.1}, {ip: "fd00:1:2::7"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: x}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers: [{name: web, ports: [{containerPort: 8080, protocol: SCTP}]}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: x}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db}]
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: kube-system}
spec:
  hostNetwork: true
  containers: [{name: agent, ports: [{containerPort: 9000}]}]
status:
  podIP: 192.0.2.10
`

// TestFromManifests checks what an inventory built from manifests holds:
// pod IPs kept (and their /24 and /64 declared), pool addresses for the
// others skipping the ones in use, ports of every container, hostNetwork
// without addresses, and a second workload of one name renamed.
func TestFromManifests(t *testing.T) {
	inv, err := firewall.FromManifests(parseSet(t, labManifests), firewall.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		ID          string
		Labels      map[string]string
		IPs         []string
		Ports       []firewall.Port
		HostNetwork bool
	}
	var got []container
	for _, c := range inv.Containers {
		cc := container{ID: c.ID(), Labels: c.Labels, Ports: c.Ports, HostNetwork: c.HostNetwork}
		for _, a := range c.IPs {
			cc.IPs = append(cc.IPs, a.String())
		}
		got = append(got, cc)
	}
	// Workloads come sorted by namespace, name, kind.
	want := []container{
		{ID: "kube-system/agent", Labels: map[string]string{}, HostNetwork: true,
			Ports: []firewall.Port{{Port: 9000, Protocol: portset.TCP}}},
		{ID: "x/known", Labels: map[string]string{"app": "known"}, IPs: []string{"10.250.0.1", "fd00:1:2::7"},
			Ports: []firewall.Port{{Name: "http", Port: 80, Protocol: portset.TCP}, {Port: 53, Protocol: portset.UDP}, {Name: "metrics", Port: 9100, Protocol: portset.TCP}}},
		// 10.250.0.1 is taken by x/known's pod IP.
		{ID: "x/web", Labels: map[string]string{"app": "web", "tier": "front"}, IPs: []string{"10.250.0.2", "fd77:6172:6400::1"},
			Ports: []firewall.Port{{Port: 8080, Protocol: portset.SCTP}}},
		{ID: "x/web-statefulset", Labels: map[string]string{"app": "db"}, IPs: []string{"10.250.0.3", "fd77:6172:6400::2"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("containers (-want +got):\n%s", diff)
	}
	if len(inv.Networks) != 1 {
		t.Fatalf("networks = %d, want 1", len(inv.Networks))
	}
	var subnets []string
	for _, s := range inv.Networks[0].Subnets {
		subnets = append(subnets, s.String())
	}
	// 10.250.0.1 lies in the pool's /16, fd00:1:2::7 gets its /64.
	if diff := cmp.Diff([]string{"10.250.0.0/16", "fd00:1:2::/64", "fd77:6172:6400::/64"}, subnets); diff != "" {
		t.Errorf("subnets (-want +got):\n%s", diff)
	}
	// The inventory compiles: the model has every container as a Pod.
	model, err := inv.Set(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(model.Workloads) != 4 {
		t.Errorf("model has %d workloads, want 4", len(model.Workloads))
	}
}

func TestFromManifestsErrors(t *testing.T) {
	dup := `apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x}
spec: {containers: [{name: a}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x}
spec: {containers: [{name: b}]}
status: {podIP: 10.0.0.1}
`
	_, err := firewall.FromManifests(parseSet(t, dup), firewall.DefaultPool)
	var me *manifest.Error
	if !errors.Is(err, firewall.ErrDuplicate) || !errors.As(err, &me) || me.File != "lab.yaml" || me.Line != 7 {
		t.Errorf("duplicate pod IP: got %v (%#v), want ErrDuplicate at lab.yaml:7", err, me)
	}

	loop := `apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x}
spec: {containers: [{name: a}]}
status: {podIP: 127.0.0.1}
`
	if _, err := firewall.FromManifests(parseSet(t, loop), firewall.DefaultPool); !errors.Is(err, firewall.ErrBadAddress) {
		t.Errorf("loopback pod IP: got %v, want ErrBadAddress", err)
	}

	three := `apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: a}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b}
spec: {containers: [{name: b}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c}
spec: {containers: [{name: c}]}
`
	// A /30 has two usable addresses once its first and last are kept out.
	small := firewall.Pool{IPv4: netip.MustParsePrefix("10.9.9.0/30")}
	if _, err := firewall.FromManifests(parseSet(t, three), small); !errors.Is(err, firewall.ErrInvalid) {
		t.Errorf("pool too small: got %v, want ErrInvalid", err)
	}
	inv, err := firewall.FromManifests(parseSet(t, three), firewall.Pool{IPv4: netip.MustParsePrefix("10.9.9.0/29")})
	if err != nil {
		t.Fatalf("IPv4-only pool: %v", err)
	}
	for i, c := range inv.Containers {
		if want := netip.AddrFrom4([4]byte{10, 9, 9, byte(i + 1)}); len(c.IPs) != 1 || c.IPs[0] != want {
			t.Errorf("%s: IPs %v, want [%s]", c.ID(), c.IPs, want)
		}
	}
	if _, err := firewall.FromManifests(parseSet(t, three), firewall.Pool{}); !errors.Is(err, firewall.ErrInvalid) {
		t.Errorf("no pool: got %v, want ErrInvalid", err)
	}
}
