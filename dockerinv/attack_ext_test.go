package dockerinv_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardsec/ward/dockerinv"
)

// publish adds a port binding (NetworkSettings.Ports) to container id.
func (e *engine) publish(id, port, hostPort string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var c map[string]any
	if err := json.Unmarshal(e.inspect[id], &c); err != nil {
		return err
	}
	ns, _ := c["NetworkSettings"].(map[string]any)
	ports, _ := ns["Ports"].(map[string]any)
	if ports == nil {
		ports = map[string]any{}
	}
	ports[port] = []any{map[string]any{"HostIp": "0.0.0.0", "HostPort": hostPort}}
	ns["Ports"] = ports
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	e.inspect[id] = data
	return nil
}

// TestAttackQuarantinedHostNetworkHidesFromProxyCheck: findUserlandProxy
// refuses to identify docker-proxy in the root cgroup while hostNetwork
// containers run (their root processes would pass for it: on a hybrid
// cgroup v1 host, such as this project's machines, a container has no
// cgroup v2 of its own). But Client.userlandProxy lists hostNetwork
// containers from inv.Containers only: with Quarantine (what `ward fw
// run` uses), a hostNetwork container whose own labels are invalid is
// moved to inv.Quarantined, which does not say it is hostNetwork, and the
// check does not see it. Its owner chooses its labels: a hostNetwork
// container labelled ward.dev/ports=oops makes Ward identify the root
// cgroup as docker-proxy's, and its root processes then pass
// userland_proxy to every container's published port. Needed: run a
// hostNetwork container (root in it is the default) with a bad label.
func TestAttackQuarantinedHostNetworkHidesFromProxyCheck(t *testing.T) {
	root := t.TempDir()
	dockerinv.SetNftCgroupRoot(t, root)
	mount := filepath.Join(root, "unified")
	if err := os.MkdirAll(mount, 0o700); err != nil {
		t.Fatal(err)
	}
	proc := dockerinv.FakeProcRootProxy(t, mount)
	for _, tc := range []struct {
		name     string
		agentBad bool
	}{{"hostNetwork agent listed (control)", false}, {"hostNetwork agent quarantined by a bad label", true}} {
		t.Run(tc.name, func(t *testing.T) {
			_, c, _, _ := startEngine(t, "shop", func(e *engine) error {
				if tc.agentBad {
					if err := e.setLabel(idAgent, dockerinv.LabelPorts, "oops"); err != nil {
						return err
					}
				}
				return e.publish(idWeb1, "8080/tcp", "18080")
			})
			c.Quarantine = true
			dockerinv.SetProc(c, proc)
			var note *dockerinv.ProxyNote
			c.OnUserlandProxy = func(n dockerinv.ProxyNote) { note = &n }
			inv, err := c.Inventory(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if note == nil {
				t.Fatalf("no proxy note (source %s)", c.Source())
			}
			t.Logf("%d quarantined; %s", len(inv.Quarantined), note)
			if !strings.Contains(note.Reason, "agent") {
				t.Errorf("the proxy is not refused for the hostNetwork container agent: %s", note)
			}
			if inv.UserlandProxy != nil {
				if tc.agentBad {
					t.Errorf("HOLE: the root cgroup is identified as docker-proxy's while hostNetwork container agent runs (quarantined): %s", note)
				} else {
					t.Errorf("control: identified %s beside a listed hostNetwork container", note)
				}
			}
		})
	}
}
