// Package kernel holds the `ward watch` sources that read the Linux
// kernel directly, on plain Docker hosts with no agent in the containers:
//
//   - Conntrack: connections as connection tracking sees them (new,
//     updated, destroyed), with NAT and, as Run turns accounting on,
//     packet and byte counts both ways. Connection tracking only follows
//     connections in a namespace where something uses it (Docker's NAT
//     and ward fw do).
//   - NFLog: the packets `ward fw --log-group N` drops, each a policy
//     event naming the chain that dropped it.
//
// Both need CAP_NET_ADMIN, work in any network namespace given by file
// descriptor, and never lose an event silently: the kernel's own drop
// counts (the socket's sk_drops, nflog's sequence numbers) are reported
// as event.Problem.Lost.
package kernel
