package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/wardsec/ward/portset"
)

// ctProtocols are the transport protocols policies speak of, by number.
var ctProtocols = map[uint8]portset.Protocol{unix.IPPROTO_TCP: portset.TCP, unix.IPPROTO_UDP: portset.UDP, unix.IPPROTO_SCTP: portset.SCTP}

// FlushDenied deletes the tracked connections that o no longer allows, so
// that a tightened policy also ends the connections it now forbids: the
// ruleset accepts established traffic without looking at policies, so
// without this a connection opened under the old policy would outlive it.
//
// A connection is judged by its original direction, as the ruleset judged
// its first packet: the source of the original tuple, and the destination
// as the reply tuple shows it (after Docker's DNAT of a published port,
// the container's address and port). The host's connections to itself
// are kept, but for those to a port it publishes. It is judged at Input when its
// destination is one of the host's addresses (local), at Output when its
// source is, and at Forward otherwise. Only TCP, UDP and SCTP connections
// are judged: policies speak of ports. A connection from the host to a
// container's published port is kept when the userland_proxy chain
// admitted it (its mark is ProxyConnMark; Oracle.Relayed): the client's
// leg, judged at Input, is ended when denied. A flow the host opened
// from a port it publishes (a UDP proxy's datagram to its client) is
// judged as its destination's connection to that port. It returns how
// many it deleted.
func FlushDenied(conn *conntrack.Conn, o *Oracle, local func(netip.Addr) bool) (int, error) {
	flows, err := conn.Dump(nil)
	if err != nil {
		return 0, fmt.Errorf("firewall: conntrack dump: %w", err)
	}
	deleted := 0
	for _, f := range flows {
		proto, ported := ctProtocols[f.TupleOrig.Proto.Protocol]
		src, dst := f.TupleOrig.IP.SourceAddress, f.TupleReply.IP.SourceAddress
		port := f.TupleReply.Proto.SourcePort
		hook := Forward
		switch {
		case ported && local(src) && o.publishes(proto, f.TupleOrig.Proto.SourcePort):
			// The host's flow from a port it publishes (a UDP proxy's
			// datagram to its client): the client's connection to it.
			hook, src, dst, port = Input, dst, src, f.TupleOrig.Proto.SourcePort
		case local(dst) && local(src) && !(ported && o.publishes(proto, port)):
			continue // the host to itself: lo is accepted but for published ports
		case local(dst):
			hook = Input
		case local(src):
			hook = Output
		}
		if ported && (o.Allows(hook, src, dst, proto, port) || hook == Output && o.Relayed(dst, proto, port) && f.Mark == ProxyConnMark) || !ported && o.AllowsAnyProtocol(hook, src, dst) {
			continue
		}
		if err := conn.Delete(f); err != nil {
			if errors.Is(err, syscall.ENOENT) {
				continue // it ended meanwhile
			}
			return deleted, fmt.Errorf("firewall: conntrack delete protocol %d %s -> %s: %w", f.TupleOrig.Proto.Protocol, src, dst, err)
		}
		deleted++
	}
	return deleted, nil
}
