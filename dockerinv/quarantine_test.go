package dockerinv_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/dockerinv"
	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/netpol"
)

// quarantined reads a recorded scenario, changed, with Quarantine set.
func quarantined(t *testing.T, scenario string, change func(*engine) error) (*firewall.Inventory, error) {
	t.Helper()
	_, c, _, _ := startEngine(t, scenario, change)
	c.Quarantine = true
	return c.Inventory(context.Background())
}

// ids returns the namespace/name of the inventory's containers.
func ids(inv *firewall.Inventory) []string {
	var out []string
	for _, c := range inv.Containers {
		out = append(out, c.ID())
	}
	return out
}

// allShop are the containers of the shop recording, as TestInventoryRecorded
// has them.
var allShop = []string{"default/wardrec-bridge", "default/wardrec-plain", "payments/api", "wardrec/agent", "wardrec/web-1", "wardrec/web-2"}

// setIP changes the IPv4 address of container id on its network net.
func (e *engine) setIP(id, net, ip string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var c map[string]any
	if err := json.Unmarshal(e.inspect[id], &c); err != nil {
		return err
	}
	ns, _ := c["NetworkSettings"].(map[string]any)
	nets, _ := ns["Networks"].(map[string]any)
	ep, ok := nets[net].(map[string]any)
	if !ok {
		return fmt.Errorf("container %s is not on %s", id, net)
	}
	ep["IPAddress"] = ip
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	e.inspect[id] = data
	return nil
}

// TestInventoryQuarantine: with Quarantine, a container whose own data is
// invalid is left out of the containers and listed, with its Docker name
// and ID, the reason and its addresses, in Quarantined; every other
// container is kept as it is without it. Without Quarantine, the same
// recording is an error, as before.
func TestInventoryQuarantine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*engine) error
		// want are the quarantined containers by Docker name, with what
		// their reasons say and their addresses.
		want   map[string][2]string
		kept   []string
		strict error // what Inventory without Quarantine fails with
	}{
		{
			name:   "ward.dev/ports does not parse",
			change: func(e *engine) error { return e.setLabel(idPlain, dockerinv.LabelPorts, "oops") },
			want:   map[string][2]string{"wardrec-plain": {`label ward.dev/ports="oops"`, "10.213.2.4"}},
			kept:   slices.DeleteFunc(slices.Clone(allShop), func(s string) bool { return s == "default/wardrec-plain" }),
			strict: dockerinv.ErrPortsLabel,
		},
		{
			// A replica's bad label: the other keeps its numbered name.
			name:   "one replica's ward.dev/ports does not parse",
			change: func(e *engine) error { return e.setLabel(idWeb2, dockerinv.LabelPorts, "http=99999") },
			want:   map[string][2]string{"wardrec_web_2": {`label ward.dev/ports="http=99999"`, "10.213.2.3 10.213.1.3 fd00:213:1::3"}},
			kept:   slices.DeleteFunc(slices.Clone(allShop), func(s string) bool { return s == "wardrec/web-2" }),
			strict: dockerinv.ErrPortsLabel,
		},
		{
			name:   "ward.dev/namespace not a label value",
			change: func(e *engine) error { return e.setLabel(idPlain, dockerinv.LabelNamespace, "Not A Namespace") },
			want:   map[string][2]string{"wardrec-plain": {`namespace "Not A Namespace"`, "10.213.2.4"}},
			kept:   slices.DeleteFunc(slices.Clone(allShop), func(s string) bool { return s == "default/wardrec-plain" }),
			strict: firewall.ErrInvalid,
		},
		{
			// Neither can be told from the other: both.
			name: "two containers one namespace/name",
			change: func(e *engine) error {
				for k, v := range map[string]string{"com.docker.compose.project": "wardrec", "com.docker.compose.service": "api",
					"com.docker.compose.container-number": "1", dockerinv.LabelNamespace: "payments"} {
					if err := e.setLabel(idPlain, k, v); err != nil {
						return err
					}
				}
				return nil
			},
			want: map[string][2]string{
				"wardrec-plain": {"payments/api-1 already declared", "10.213.2.4"},
				"wardrec_api_1": {"payments/api-1 already declared", "10.213.2.20"},
			},
			kept:   []string{"default/wardrec-bridge", "wardrec/agent", "wardrec/web-1", "wardrec/web-2"},
			strict: firewall.ErrDuplicate,
		},
		{
			// Both, so that no container keeps an address a quarantined
			// one has too.
			name:   "two containers one address",
			change: func(e *engine) error { return e.setIP(idPlain, "wardrec_back", "10.213.2.2") },
			want: map[string][2]string{
				"wardrec_web_1": {"10.213.2.2 is already the address of default/wardrec-plain", "10.213.2.2 10.213.1.2 fd00:213:1::2"},
				"wardrec-plain": {"10.213.2.2 is also the address of quarantined container wardrec_web_1", "10.213.2.2"},
			},
			kept:   []string{"default/wardrec-bridge", "payments/api", "wardrec/agent", "wardrec/web-2"},
			strict: firewall.ErrDuplicate,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if inv, _, err := inventory(t, "shop", tc.change); !errors.Is(err, tc.strict) {
				t.Fatalf("without Quarantine: inventory %v, error %v; want an error wrapping %v", inv, err, tc.strict)
			}
			inv, err := quarantined(t, "shop", tc.change)
			if err != nil {
				t.Fatalf("with Quarantine: %v", err)
			}
			if diff := cmp.Diff(tc.kept, ids(inv)); diff != "" {
				t.Errorf("kept containers (-want +got):\n%s", diff)
			}
			got := map[string][2]string{}
			for _, q := range inv.Quarantined {
				var addrs []string
				for _, a := range q.IPs {
					addrs = append(addrs, a.String())
				}
				got[q.Name] = [2]string{q.Reason, strings.Join(addrs, " ")}
				if len(q.ID) != 64 {
					t.Errorf("quarantined %s: ID %q, want Docker's full ID", q.Name, q.ID)
				}
			}
			for name, w := range tc.want {
				g, ok := got[name]
				switch {
				case !ok:
					t.Errorf("%s is not quarantined; quarantined: %v", name, inv.Quarantined)
				case !strings.Contains(g[0], w[0]) || g[1] != w[1]:
					t.Errorf("%s quarantined for %q with addresses %s; want a reason saying %q and addresses %s", name, g[0], g[1], w[0], w[1])
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("quarantined %v; want %d containers", inv.Quarantined, len(tc.want))
			}
			if err := inv.Validate(); err != nil {
				t.Errorf("the inventory does not validate: %v", err)
			}
		})
	}
}

// TestInventoryQuarantineRecorded: the recorded wardbad-web, whose
// ward.dev/ports reads "http:8080", is quarantined; compiled, even with
// unclassified addresses allowed, its address is dropped both ways.
func TestInventoryQuarantineRecorded(t *testing.T) {
	inv, err := quarantined(t, "badports", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Containers) != 0 || len(inv.Quarantined) != 1 {
		t.Fatalf("containers %v, quarantined %v; want only wardbad-web, quarantined", ids(inv), inv.Quarantined)
	}
	q := inv.Quarantined[0]
	if q.ID != idBad || q.Name != "wardbad-web" || !strings.Contains(q.Reason, `ward.dev/ports="http:8080"`) || len(q.IPs) == 0 {
		t.Fatalf("quarantined %+v; want wardbad-web (%s), its label and addresses", q, idBad)
	}
	if s := q.String(); !strings.Contains(s, "wardbad-web (d352f92a8e62): label ward.dev/ports=") {
		t.Errorf("String() = %q, want the name, the short ID and the reason", s)
	}
	set, err := inv.Set(nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := firewall.Compile(eng, inv, firewall.Options{AllowUnclassified: true})
	if err != nil {
		t.Fatal(err)
	}
	o := firewall.NewOracle(eng, inv, firewall.Options{AllowUnclassified: true})
	for _, a := range q.IPs {
		if !o.Quarantined(a) {
			t.Errorf("the oracle does not drop %s", a)
		}
		for _, name := range []string{firewall.MapEgress, firewall.MapIngress} {
			if !jumpsUnclassified(rs, name, a) {
				t.Errorf("map %s of the ruleset does not send %s to chain %s:\n%s", name, a, firewall.ChainUnclassified, rs)
			}
		}
	}
}

// jumpsUnclassified reports whether the verdict map name (of a's family)
// sends a to the unclassified chain.
func jumpsUnclassified(rs *firewall.Ruleset, name string, a netip.Addr) bool {
	suffix := "_v4"
	if a.Is6() {
		suffix = "_v6"
	}
	for _, m := range rs.Maps {
		if m.Name != name+suffix {
			continue
		}
		for _, e := range m.Elements {
			if e.Range.Contains(a) {
				return e.Verdict.Kind == firewall.Jump && e.Verdict.Chain == firewall.ChainUnclassified
			}
		}
	}
	return false
}

// TestInventoryQuarantineGlobal: what is no one container's fault still
// fails the inventory with Quarantine: here two bridge networks of one
// name.
func TestInventoryQuarantineGlobal(t *testing.T) {
	_, err := quarantined(t, "shop", func(e *engine) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		var nets []map[string]any
		if err := json.Unmarshal(e.networks, &nets); err != nil {
			return err
		}
		for _, n := range nets {
			if n["Name"] == "wardrec_back" {
				dup := map[string]any{}
				for k, v := range n {
					dup[k] = v
				}
				dup["Id"] = strings.Repeat("f", 64)
				nets = append(nets, dup)
				break
			}
		}
		data, err := json.Marshal(nets)
		e.networks = data
		return err
	})
	if !errors.Is(err, firewall.ErrDuplicate) || !strings.Contains(err.Error(), "network wardrec_back") {
		t.Fatalf("Inventory = %v; want a duplicate network error", err)
	}
}

// TestInventoryUnknownPorts: every port of a managed network's bridge
// that no container of the inventory is bound to becomes an unknown port
// (bound to no address by the firewall), and OnUnknownPort says whose it
// is: the quarantined container's, or, for that of a container whose own
// lookup failed and one no listed container leads to (started since),
// that no container could be bound to it. Ports of
// bridges Ward does not manage are left alone; a managed network whose
// bridge the host lacks is reported through OnUnbound. The bridges are
// named as Docker's bridge driver names them: the network's
// com.docker.network.bridge.name option (docker0) or br- and its ID's
// first 12 characters.
func TestInventoryUnknownPorts(t *testing.T) {
	_, c, _, _ := startEngine(t, "shop", func(e *engine) error { return e.setLabel(idPlain, dockerinv.LabelPorts, "oops") })
	c.Quarantine = true
	port := func(key string) string { return "veth" + key[len(key)-7:] }
	failed := "/var/run/docker/netns/9032807675d8" // wardrec_api_1's: its own lookup fails
	dockerinv.SetBridges(c, dockerinv.FakeBridges{
		Of: func(key string) ([]string, error) {
			if key == failed {
				return nil, errors.New("no bridge port of this host leads to it")
			}
			return []string{port(key)}, nil
		},
		Bridges: map[string][]string{
			// The default network: wardrec-bridge, and a port of no
			// container Ward listed.
			"docker0": {port("/var/run/docker/netns/31418122f9b9"), "veth0new001"},
			// wardrec_back: the web replicas, the quarantined
			// wardrec-plain, and wardrec_api_1.
			"br-ac517e9fb94b": {port("/var/run/docker/netns/fdff1299317c"), port("/var/run/docker/netns/32f73b4252a5"),
				port("/var/run/docker/netns/43be4eb32a97"), port(failed)},
			// A bridge Ward does not manage.
			"virbr0": {"vnet0"},
			// wardrec_front (br-f7bc830444d7) is missing.
		},
	})
	var unknown []dockerinv.UnknownPort
	var unbound []dockerinv.Skipped
	c.OnUnknownPort = func(u dockerinv.UnknownPort) { unknown = append(unknown, u) }
	c.OnUnbound = func(s dockerinv.Skipped) { unbound = append(unbound, s) }
	inv, err := c.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{port(failed), port("/var/run/docker/netns/43be4eb32a97"), "veth0new001"}
	slices.Sort(want)
	if !slices.Equal(inv.UnknownPorts, want) {
		t.Errorf("UnknownPorts %v, want %v", inv.UnknownPorts, want)
	}
	if err := inv.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// The networks whose bridges were listed name them (the firewall
	// closes their ports attached since); wardrec_front's is missing.
	bridges := map[string]string{}
	for _, n := range inv.Networks {
		bridges[n.Name] = n.Bridge
	}
	if want := map[string]string{"bridge": "docker0", "wardrec_back": "br-ac517e9fb94b", "wardrec_front": ""}; !maps.Equal(bridges, want) {
		t.Errorf("networks' bridges %v, want %v", bridges, want)
	}
	says := map[string]string{}
	for _, u := range unknown {
		says[u.Port] = u.String()
	}
	for p, w := range map[string]string{
		port("/var/run/docker/netns/43be4eb32a97"): "of quarantined container wardrec-plain (5fa40cd6a6ed): its frames are dropped",
		port(failed):  "bridge br-ac517e9fb94b (network wardrec_back), of no container Ward could bind",
		"veth0new001": "port veth0new001 of bridge docker0 (network bridge), of no container Ward could bind",
	} {
		if !strings.Contains(says[p], w) {
			t.Errorf("OnUnknownPort for %s: %q, want it to say %q", p, says[p], w)
		}
	}
	if len(unknown) != len(want) {
		t.Errorf("OnUnknownPort calls: %v", unknown)
	}
	var missing bool
	for _, s := range unbound {
		missing = missing || strings.Contains(s.String(), "network wardrec_front") && strings.Contains(s.Reason, "no bridge br-f7bc830444d7")
	}
	if !missing {
		t.Errorf("OnUnbound calls %v: want one for wardrec_front's missing bridge br-f7bc830444d7", unbound)
	}
}

// attach puts container id on a network the recording does not have, of
// driver, with address ip.
func (e *engine) attach(id, net, driver, ip string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var nets []map[string]any
	if err := json.Unmarshal(e.networks, &nets); err != nil {
		return err
	}
	netID := strings.Repeat("ab", 32)
	nets = append(nets, map[string]any{"Name": net, "Id": netID, "Driver": driver, "Scope": "local",
		"IPAM": map[string]any{"Driver": "default", "Config": []any{map[string]any{"Subnet": "192.168.77.0/24"}}}})
	data, err := json.Marshal(nets)
	if err != nil {
		return err
	}
	e.networks = data
	var c map[string]any
	if err := json.Unmarshal(e.inspect[id], &c); err != nil {
		return err
	}
	ns, _ := c["NetworkSettings"].(map[string]any)
	eps, _ := ns["Networks"].(map[string]any)
	eps[net] = map[string]any{"NetworkID": netID, "IPAddress": ip, "IPPrefixLen": 24}
	if data, err = json.Marshal(c); err != nil {
		return err
	}
	e.inspect[id] = data
	return nil
}

// TestInventoryUnmanagedNetwork: a container also attached to a macvlan
// network is enforced on its bridge addresses only (macvlan traffic never
// crosses the host's bridge); OnUnmanaged says so, with the address that
// stays open, instead of a clean inventory.
func TestInventoryUnmanagedNetwork(t *testing.T) {
	_, c, _, _ := startEngine(t, "shop", func(e *engine) error { return e.attach(idPlain, "lan", "macvlan", "192.168.77.9") })
	var got []string
	c.OnUnmanaged = func(u dockerinv.Unmanaged) { got = append(got, u.String()) }
	inv, err := c.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"container wardrec-plain (5fa40cd6a6ed): no policy is enforced on its addresses on networks Ward does not manage: lan (macvlan) 192.168.77.9"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OnUnmanaged (-want +got):\n%s", diff)
	}
	for _, ct := range inv.Containers {
		if ct.Name == "wardrec-plain" && !slices.Equal(ct.IPs, ips("10.213.2.4")) {
			t.Errorf("wardrec-plain's IPs = %v, want its bridge address only", ct.IPs)
		}
	}
	// The recording as it is: every address is on a managed network.
	_, c, _, _ = startEngine(t, "shop", nil)
	c.OnUnmanaged = func(u dockerinv.Unmanaged) { t.Errorf("unexpected: %s", u) }
	if _, err := c.Inventory(context.Background()); err != nil {
		t.Fatal(err)
	}
}
