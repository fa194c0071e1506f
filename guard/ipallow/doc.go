// Package ipallow decides whether a client address may reach a service,
// from CIDR allow and deny lists.
//
// A [List] is compiled once from allow and deny prefixes and answers
// [List.Allowed] by binary search over sorted, disjoint address ranges,
// without allocating. A [Filter] is the net/http middleware around a List:
// [Filter.Check] is the decision, [Filter.Handler] answers 403 to denied
// requests, and the List can be swapped at run time.
//
// # Rules
//
//   - Deny wins: an address inside any deny prefix is denied, whatever the
//     allow list says.
//   - An empty allow list (no prefix of either family) allows every address
//     that is not denied. A non-empty allow list allows only what it
//     covers: allowing only IPv4 prefixes denies all of IPv6, and the other
//     way round, so that adding one family's rule never opens the other.
//   - The invalid address ("unknown", see package clientip) is denied.
//   - Addresses are compared in canonical form: an IPv4-mapped IPv6
//     address (::ffff:192.0.2.1) is its IPv4 address, and an IPv6 zone is
//     ignored. Prefixes written in IPv4-mapped form with at least 96 bits
//     (::ffff:192.0.2.0/120) are IPv4 prefixes. Other IPv6 prefixes, even
//     ::/0, never match an IPv4 address: write IPv4 rules for IPv4.
//
// # Security trade-offs
//
// An allow list on addresses is only as strong as the address it is given.
// [Filter] uses the address that clientip.Resolver.Handler stored in the
// request context, and the peer address only when that middleware did not
// run; an unknown client stored there is denied, never replaced by the
// peer (a trusted proxy, likely inside the allow list). Put the clientip
// middleware first when the service sits behind proxies, and configure its
// trusted proxies narrowly, or anyone a trusted proxy forwards for can
// claim an allowed address.
//
// Addresses are not identities: NAT, shared egress proxies and IPv6
// privacy addresses make one address many clients and one client many
// addresses. Use allow lists as a layer in front of authentication, not in
// its place.
//
// Zones are ignored so that fe80::1%eth0 cannot slip past a deny rule for
// fe80::/10 (netip.Prefix.Contains never matches a zoned address); the
// cost is that a rule cannot tell link-local neighbours on different
// interfaces apart.
package ipallow
