package firewall

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrBridgeBypass is wrapped by CheckBridgeNetfilter's error: traffic
// between two containers on one Docker bridge is switched by the bridge
// and never meets an inet table's hooks unless br_netfilter hands it to
// them. Applying a ruleset then would only look like enforcement.
var ErrBridgeBypass = errors.New("traffic between containers on one bridge would bypass netfilter")

// bridgeSysctls are the switches that send bridged IPv4 and IPv6 traffic
// through netfilter's hooks, relative to /proc/sys.
var bridgeSysctls = []string{"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables"}

// CheckBridgeNetfilter returns nil when bridged IPv4 and IPv6 traffic
// passes through netfilter (br_netfilter is loaded and both
// bridge-nf-call switches are on), and an error wrapping ErrBridgeBypass
// naming what is missing otherwise. procSys is where sysctls are mounted,
// "" for /proc/sys.
func CheckBridgeNetfilter(procSys string) error {
	if procSys == "" {
		procSys = "/proc/sys"
	}
	var missing []string
	for _, s := range bridgeSysctls {
		b, err := os.ReadFile(filepath.Join(procSys, s)) // #nosec G304 -- fixed sysctl paths under a root the caller names
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%w: the br_netfilter module is not loaded (%s is missing); load it, or run with --enable-br-netfilter", ErrBridgeBypass, filepath.Join(procSys, s))
		case err != nil:
			return fmt.Errorf("firewall: read %s: %w", s, err)
		case strings.TrimSpace(string(b)) != "1":
			missing = append(missing, strings.TrimPrefix(s, "net/bridge/"))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: net.bridge.%s is off; turn it on, or run with --enable-br-netfilter", ErrBridgeBypass, strings.Join(missing, " and net.bridge."))
	}
	return nil
}

// EnableBridgeNetfilter loads br_netfilter if needed (with modprobe) and
// turns both bridge-nf-call switches on, then checks the result.
func EnableBridgeNetfilter(procSys string) error {
	if procSys == "" {
		procSys = "/proc/sys"
	}
	if _, err := os.Stat(filepath.Join(procSys, bridgeSysctls[0])); errors.Is(err, os.ErrNotExist) {
		if out, err := exec.Command("modprobe", "br_netfilter").CombinedOutput(); err != nil { // #nosec G204 -- a fixed command
			return fmt.Errorf("firewall: modprobe br_netfilter: %w: %s", err, strings.TrimSpace(string(out)))
		}
	}
	for _, s := range bridgeSysctls {
		if err := os.WriteFile(filepath.Join(procSys, s), []byte("1\n"), 0o644); err != nil { // #nosec G306 -- a sysctl, whose mode the kernel sets
			return fmt.Errorf("firewall: enable %s: %w", s, err)
		}
	}
	return CheckBridgeNetfilter(procSys)
}
