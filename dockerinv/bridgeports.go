package dockerinv

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/vishvananda/netlink"
)

// bridgePorts finds the host side of containers' veths: for a container's
// network namespace (its sandbox key, the file Docker bind-mounts under
// /var/run/docker/netns), the veths of this namespace that are bridge
// ports and whose peer lives there. It asks the kernel for the namespace's
// id here (RTM_GETNSID) and matches it against each veth's link-netnsid,
// so it never enters the container's namespace: reading the sandbox file
// needs root, no capability beyond CAP_NET_ADMIN. The host's links are
// listed once per finder.
type bridgePorts struct {
	byNsid map[int][]string
	// byBridge are the ports of each bridge of the host, whatever their
	// kind, by the bridge's name.
	byBridge map[string][]string
}

func newBridgePorts() (*bridgePorts, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list the host's links: %w", err)
	}
	bp := &bridgePorts{byNsid: map[int][]string{}, byBridge: map[string][]string{}}
	bridges := map[int]string{} // by index
	for _, l := range links {
		if l.Type() == "bridge" {
			bridges[l.Attrs().Index] = l.Attrs().Name
			bp.byBridge[l.Attrs().Name] = nil
		}
	}
	for _, l := range links {
		a := l.Attrs()
		if l.Type() == "veth" && a.MasterIndex != 0 && a.NetNsID >= 0 {
			bp.byNsid[a.NetNsID] = append(bp.byNsid[a.NetNsID], a.Name)
		}
		if br, ok := bridges[a.MasterIndex]; ok && a.MasterIndex != 0 {
			bp.byBridge[br] = append(bp.byBridge[br], a.Name)
		}
	}
	for _, names := range bp.byNsid {
		slices.Sort(names)
	}
	for _, names := range bp.byBridge {
		slices.Sort(names)
	}
	return bp, nil
}

// portsOf returns the ports of the bridge named br, and whether the host
// has such a bridge.
func (bp *bridgePorts) portsOf(br string) ([]string, bool) {
	ports, ok := bp.byBridge[br]
	return ports, ok
}

// of returns the bridge ports of the container whose sandbox key is key.
func (bp *bridgePorts) of(key string) ([]string, error) {
	if key == "" {
		return nil, errors.New("no network namespace (sandbox key) in what the Docker Engine reports")
	}
	f, err := os.Open(key) // #nosec G304 -- the network namespace file the Docker Engine names for the container
	if err != nil {
		return nil, fmt.Errorf("open its network namespace: %w", err)
	}
	defer func() { _ = f.Close() }()
	id, err := netlink.GetNetNsIdByFd(int(f.Fd())) // #nosec G115 -- a file descriptor fits an int
	if err != nil {
		return nil, fmt.Errorf("network namespace id: %w", err)
	}
	names := bp.byNsid[id]
	if id < 0 || len(names) == 0 {
		return nil, errors.New("no bridge port of this host leads to its network namespace")
	}
	return names, nil
}
