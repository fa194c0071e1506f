// Package portset provides Set, an immutable set of (protocol, port) pairs
// stored as sorted, disjoint, non-adjacent port intervals per protocol.
//
// A NetworkPolicy rule allows a union of ports and port ranges over TCP, UDP
// and SCTP; the engine unions the rules that apply to a connection and
// intersects the egress side with the ingress side. Intervals keep every one
// of those operations linear in the number of ranges, never in the number of
// ports.
package portset
