package dockerinv_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wardsec/ward/dockerinv"
	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

// Containers of the recording testdata/engine/shop: the Compose project
// wardrec of testdata/engine/shop/docker-compose.yml (web with two
// replicas on the networks front, dual-stack, and back, internal; api
// with ward.dev/namespace; agent on the host network; batch on network
// none), plus wardrec-plain (docker run on back) and wardrec-bridge
// (docker run on the default bridge).
const (
	idBridge = "64045b726a922c9964e6c9ad8740d05d817f6bfd70ce2edf5920dcccb3d07b69"
	idPlain  = "5fa40cd6a6ede5b0628df029d841ae7edddb5d07a44d20728acd17c95970e6cf"
	idAPI    = "c6f79eddea88291463dbb4fad67d2fc8fbd7c1a24b24825652ea1383034d7702"
	idAgent  = "2cc973f35bcf38904066ce244c3aee78acb039d4da0c3b6872915c2c3260c309"
	idBatch  = "e6206451a6571814ff9d9577a6c1ce724386901f1380ebe51f0fdbf7b442c460"
	idWeb2   = "57799aca966108135f6d03546b7109a3ca630a329b515316dd0dc88c56c933b4"
	idWeb1   = "63576deea6fc99738da9c95c522dc8686f9056ba512af4f1ab19fa81c7b2e8dc"
	idBad    = "d352f92a8e62257936c6f507662f1a9c579d5448aaca9b53cf59d2a5d719f19f"
)

// startEngine serves a recorded scenario on a unix socket in a temporary
// directory and returns the engine (to change it) and a client of it.
// The server stops at the end of the test, or earlier by stop (twice is
// harmless).
func startEngine(t *testing.T, scenario string, change func(*engine) error) (e *engine, c *dockerinv.Client, socket string, stop func()) {
	t.Helper()
	e, err := loadEngine(filepath.Join("testdata", "engine", scenario))
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		if err := change(e); err != nil {
			t.Fatal(err)
		}
	}
	socket = filepath.Join(t.TempDir(), "docker.sock")
	host, stopServer, err := e.serve(socket)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(stopServer) }
	t.Cleanup(stop)
	c, err = dockerinv.New(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return e, c, socket, stop
}

// inventory reads the inventory of a recorded scenario, with the
// containers it left out.
func inventory(t *testing.T, scenario string, change func(*engine) error) (*firewall.Inventory, []dockerinv.Skipped, error) {
	t.Helper()
	_, c, _, _ := startEngine(t, scenario, change)
	var skipped []dockerinv.Skipped
	c.OnSkip = func(s dockerinv.Skipped) { skipped = append(skipped, s) }
	inv, err := c.Inventory(context.Background())
	return inv, skipped, err
}

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

func ips(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// macs parses MAC addresses.
func macs(s ...string) []net.HardwareAddr {
	var out []net.HardwareAddr
	for _, m := range s {
		hw, err := net.ParseMAC(m)
		if err != nil {
			panic(err)
		}
		out = append(out, hw)
	}
	return out
}

// TestInventoryRecorded reads the recorded shop: every container's
// addresses on managed networks, and its endpoints' MAC addresses there
// (the agent, on the host network, has none).
func TestInventoryRecorded(t *testing.T) {
	e, c, socket, _ := startEngine(t, "shop", nil)
	var skipped []dockerinv.Skipped
	c.OnSkip = func(s dockerinv.Skipped) { skipped = append(skipped, s) }
	inv, err := c.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "docker://" + socket; inv.File != want || c.Source() != want {
		t.Errorf("File = %q, Source() = %q; want %q", inv.File, c.Source(), want)
	}
	// The client negotiated the daemon's version (1.41, below its own).
	for _, p := range e.requests() {
		if p != "/_ping" && !strings.HasPrefix(p, "/v1.41/") {
			t.Errorf("request %s: want API version 1.41", p)
		}
	}

	wantNets := []*firewall.Network{
		{Name: "bridge", Subnets: []netip.Prefix{netip.MustParsePrefix("172.17.0.0/16")}},
		{Name: "wardrec_back", Subnets: []netip.Prefix{netip.MustParsePrefix("10.213.2.0/24")}, Internal: true},
		{Name: "wardrec_front", Subnets: []netip.Prefix{netip.MustParsePrefix("10.213.1.0/24"), netip.MustParsePrefix("fd00:213:1::/64")}},
	}
	// Which bridges are named depends on the host's (docker0 on a
	// Docker host): TestInventoryUnknownPorts fakes them.
	if diff := cmp.Diff(wantNets, inv.Networks, cmpOpts, cmpopts.IgnoreFields(firewall.Network{}, "Bridge")); diff != "" {
		t.Errorf("networks (-want +got):\n%s", diff)
	}

	compose := func(service, number string, extra map[string]string) map[string]string {
		l := map[string]string{
			"com.docker.compose.container-number":     number,
			"com.docker.compose.oneoff":               "False",
			"com.docker.compose.project":              "wardrec",
			"com.docker.compose.project.config_files": "docker-compose.yml",
			"com.docker.compose.service":              service,
			"com.docker.compose.version":              "1.29.2",
			"ward.test":                               "rec",
		}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}
	tcp := func(name string, port uint16) firewall.Port {
		return firewall.Port{Name: name, Port: port, Protocol: portset.TCP}
	}
	wantCtrs := []*firewall.Container{
		{Name: "wardrec-bridge", Namespace: "default", Labels: map[string]string{"app": "legacy", "ward.test": "rec"},
			IPs: ips("172.17.0.2"), MACs: macs("02:42:ac:11:00:02")},
		{Name: "wardrec-plain", Namespace: "default", Labels: map[string]string{"app": "plain", "ward.test": "rec"},
			IPs: ips("10.213.2.4"), MACs: macs("02:42:0a:d5:02:04"), Ports: []firewall.Port{{Port: 5000, Protocol: portset.UDP}}},
		// ward.dev/namespace wins over the project; named ports first,
		// then the exposed port the label does not name.
		{Name: "api", Namespace: "payments", Labels: compose("api", "1", map[string]string{"app": "api", "ward.dev/namespace": "payments"}),
			IPs: ips("10.213.2.20"), MACs: macs("02:42:0a:d5:02:14"),
			Ports: []firewall.Port{tcp("grpc", 9090), {Name: "dns", Port: 53, Protocol: portset.UDP}, tcp("", 7000)}},
		{Name: "agent", Namespace: "wardrec", Labels: compose("agent", "1", map[string]string{"app": "agent"}), HostNetwork: true},
		// Two replicas: numbered. Labels that are not Kubernetes labels
		// (example.com/a/b, a 64-character value, ward.dev/ports, the
		// working_dir path, the config hash) are gone. IPv4 and IPv6 on
		// front, IPv4 on back, by network name.
		{Name: "web-1", Namespace: "wardrec", Labels: compose("web", "1", map[string]string{"app": "web", "tier": "frontend"}),
			IPs: ips("10.213.2.2", "10.213.1.2", "fd00:213:1::2"), MACs: macs("02:42:0a:d5:01:02", "02:42:0a:d5:02:02"), Ports: []firewall.Port{tcp("http", 8080), tcp("metrics", 9100)}},
		{Name: "web-2", Namespace: "wardrec", Labels: compose("web", "2", map[string]string{"app": "web", "tier": "frontend"}),
			IPs: ips("10.213.2.3", "10.213.1.3", "fd00:213:1::3"), MACs: macs("02:42:0a:d5:01:03", "02:42:0a:d5:02:03"), Ports: []firewall.Port{tcp("http", 8080), tcp("metrics", 9100)}},
	}
	if diff := cmp.Diff(wantCtrs, inv.Containers, cmpOpts); diff != "" {
		t.Errorf("containers (-want +got):\n%s", diff)
	}

	if len(skipped) != 1 || skipped[0].ID != idBatch || skipped[0].Name != "wardrec_batch_1" || !strings.Contains(skipped[0].Reason, "network none") {
		t.Errorf("skipped = %v; want wardrec_batch_1 (network none)", skipped)
	}

	// What the firewall does with it: the containers become workloads.
	set, err := inv.Set(nil)
	if err != nil {
		t.Fatalf("Set: %v", err)
	}
	if len(set.Workloads) != len(wantCtrs) {
		t.Errorf("Set gave %d workloads, want %d", len(set.Workloads), len(wantCtrs))
	}
}

// One replica left: the service's name, unnumbered.
func TestInventorySingleReplica(t *testing.T) {
	inv, _, err := inventory(t, "shop", func(e *engine) error { return e.drop(idWeb1) })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range inv.Containers {
		names = append(names, c.ID())
	}
	want := []string{"default/wardrec-bridge", "default/wardrec-plain", "payments/api", "wardrec/agent", "wardrec/web"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("containers (-want +got):\n%s", diff)
	}
}

// A container removed between the list and its inspection is left out,
// not an error.
func TestInventoryContainerGone(t *testing.T) {
	inv, skipped, err := inventory(t, "shop", func(e *engine) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.inspect, idPlain)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range inv.Containers {
		if c.Name == "wardrec-plain" {
			t.Errorf("wardrec-plain is in the inventory after it was removed")
		}
	}
	var gone bool
	for _, s := range skipped {
		gone = gone || (s.ID == idPlain && strings.Contains(s.Reason, "removed"))
	}
	if !gone {
		t.Errorf("skipped = %v; want wardrec-plain, removed", skipped)
	}
}

func TestInventoryBadPortsLabel(t *testing.T) {
	inv, _, err := inventory(t, "badports", nil)
	if err == nil {
		t.Fatalf("got inventory %+v, want an error", inv)
	}
	if !errors.Is(err, dockerinv.ErrPortsLabel) {
		t.Errorf("error %v does not wrap ErrPortsLabel", err)
	}
	// The message names the container and the label with its value.
	for _, s := range []string{"wardbad-web", "d352f92a8e62", `ward.dev/ports="http:8080"`, "docker://"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// The result goes through firewall.ParseInventory's checks; their errors
// name the Docker container, without lines of the intermediate text.
func TestInventoryValidated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*engine) error
		kind   error
		says   []string
	}{
		{
			name:   "namespace not a label value",
			change: func(e *engine) error { return e.setLabel(idPlain, dockerinv.LabelNamespace, "Not A Namespace") },
			kind:   firewall.ErrInvalid,
			says:   []string{"container Not A Namespace/wardrec-plain", "docker container wardrec-plain, 5fa40cd6a6ed", "namespace"},
		},
		{
			name: "two containers one name",
			change: func(e *engine) error {
				// wardrec-plain claims to be the api of payments.
				for k, v := range map[string]string{"com.docker.compose.project": "wardrec", "com.docker.compose.service": "api",
					"com.docker.compose.container-number": "1", dockerinv.LabelNamespace: "payments"} {
					if err := e.setLabel(idPlain, k, v); err != nil {
						return err
					}
				}
				return nil
			},
			kind: firewall.ErrDuplicate,
			says: []string{"payments/api-1", "docker container wardrec-plain, 5fa40cd6a6ed"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, _, err := inventory(t, "shop", tc.change)
			if err == nil {
				t.Fatalf("got inventory %+v, want an error", inv)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %v: want %v", err, tc.kind)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if regexp.MustCompile(`\.sock:[0-9]`).MatchString(err.Error()) {
				t.Errorf("error %q gives a line of a text the user never saw", err)
			}
		})
	}
}

// TestInventoryBind: each container's bridge ports, found from its
// sandbox key, become its Interfaces; a container whose ports cannot be
// found stays unbound and OnUnbound says why.
func TestInventoryBind(t *testing.T) {
	_, c, _, _ := startEngine(t, "shop", nil)
	var keys []string
	dockerinv.SetPorts(c, func(key string) ([]string, error) {
		keys = append(keys, key)
		if strings.HasSuffix(key, "43be4eb32a97") {
			return nil, errors.New("no bridge port of this host leads to it")
		}
		return []string{"veth" + key[len(key)-7:]}, nil
	})
	var unbound []dockerinv.Skipped
	c.OnUnbound = func(s dockerinv.Skipped) { unbound = append(unbound, s) }
	inv, err := c.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bound := 0
	for _, ct := range inv.Containers {
		switch {
		case ct.HostNetwork && len(ct.Interfaces) > 0:
			t.Errorf("%s: host-network container with bridge ports %v", ct.ID(), ct.Interfaces)
		case len(ct.Interfaces) == 1 && strings.HasPrefix(ct.Interfaces[0], "veth"):
			bound++
		}
	}
	if len(unbound) != 1 || !strings.Contains(unbound[0].Reason, "no bridge port") {
		t.Errorf("OnUnbound calls: %v, want one for the container whose ports are unknown", unbound)
	}
	if bound == 0 || bound+len(unbound) != len(keys) {
		t.Errorf("%d containers bound, %d unbound, %d looked up", bound, len(unbound), len(keys))
	}
}
