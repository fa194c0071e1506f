package firewall

import (
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// DockerBridges are the names of the bridges Docker gives its bridge
// networks: docker0 (the default network) and br-<network id> (a name
// ending in * stands for every name it begins).
var DockerBridges = []string{"docker0", "br-*"}

// Close replaces Ward's tables with a table inet ward that drops every
// packet that enters the host through one of bridges, or that the host
// forwards or sends out through one (a name ending in * stands for every
// interface name beginning with the rest): what the host needs before
// Docker starts at boot, when no table of Ward's survived the reboot and
// the containers Docker restarts would otherwise talk past every policy
// until `ward fw run` loads them. With br_netfilter, bridged traffic
// between two ports of one bridge enters the host's hooks through the
// bridge too. The next Apply replaces the table, in one batch as ever.
// The interfaces need not exist: names are compared, not indexes.
func Close(conn *nftables.Conn, bridges []string) error {
	if len(bridges) == 0 {
		return fmt.Errorf("firewall: close: no bridge named")
	}
	var names [][]byte
	for _, b := range bridges {
		n, err := ifnamePattern(b)
		if err != nil {
			return fmt.Errorf("firewall: close: %w", err)
		}
		names = append(names, n)
	}
	batchMu.Lock()
	defer batchMu.Unlock()
	t := table()
	for _, tt := range []*nftables.Table{t, swapTable(), bridgeTable(), arpTable()} {
		conn.AddTable(tt)
		conn.DelTable(tt)
	}
	conn.AddTable(t)
	policy := nftables.ChainPolicyAccept
	for _, ch := range []struct {
		name     string
		hook     *nftables.ChainHook
		priority int32
		key      expr.MetaKey
	}{
		// Before conntrack's defragmentation (-400), as chain prerouting
		// of a compiled ruleset (see Ruleset.Bridges).
		{"prerouting", nftables.ChainHookPrerouting, -450, expr.MetaKeyIIFNAME},
		{"forward", nftables.ChainHookForward, -10, expr.MetaKeyOIFNAME},
		{"output", nftables.ChainHookOutput, -10, expr.MetaKeyOIFNAME},
	} {
		c := conn.AddChain(&nftables.Chain{Name: ch.name, Table: t, Hooknum: ch.hook, Type: nftables.ChainTypeFilter,
			Priority: nftables.ChainPriorityRef(nftables.ChainPriority(ch.priority)), Policy: &policy})
		for _, n := range names {
			conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: []expr.Any{
				&expr.Meta{Key: ch.key, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: n},
				&expr.Counter{},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("firewall: close: %w", err)
	}
	return nil
}

// ifnamePattern is what nft compares an interface name with: the name
// and its terminating NUL, or, for a name ending in *, the bytes before
// the * alone (a prefix).
func ifnamePattern(name string) ([]byte, error) {
	prefix, wild := strings.CutSuffix(name, "*")
	if bad := badInterface(prefix); bad != "" {
		return nil, fmt.Errorf("bridge %q: %s", name, bad)
	}
	if wild {
		return []byte(prefix), nil
	}
	return append([]byte(prefix), 0), nil
}
