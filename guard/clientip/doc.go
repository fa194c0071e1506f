// Package clientip determines the address of the client that sent an HTTP
// request when the request may have passed through reverse proxies.
//
// A [Resolver] is configured with the prefixes of the proxies it trusts and
// the forwarding header those proxies write: X-Forwarded-For (the default)
// or the RFC 7239 Forwarded header. [Resolver.ClientIP] then applies one
// rule:
//
//   - If the peer (the TCP address in Request.RemoteAddr) is not trusted, the
//     peer is the client and every forwarding header is ignored: anybody can
//     write those headers.
//   - If the peer is trusted, the header's hops are read from the right (the
//     hop appended last, by the peer itself) to the left, and the first hop
//     that is not a trusted proxy is the client. Hops to its left were
//     written by that client or by proxies it chose, so they are never
//     looked at. If every hop is trusted, the left-most one is the client;
//     with no hops at all, the trusted peer itself is.
//   - A hop that cannot be read (garbage, "unknown", an RFC 7239 obfuscated
//     identifier, a Forwarded element without for=) ends the walk with the
//     invalid [netip.Addr], which this package calls "unknown". Skipping it
//     would mean reading further left, where the client writes; returning
//     the trusted hop to its right would make a proxy look like the client.
//
// # Security trade-offs
//
// The result is only as good as the trusted list. Trusting a prefix means
// trusting every host in it to append the address of its own peer to the
// configured header and never to pass a client's value through unchecked.
// Trust exactly the proxies in front of the service, never a whole
// private range "to be safe": a host in a trusted range can claim to be
// forwarding for any address it likes. [New] refuses a prefix that covers
// a whole family (0.0.0.0/0, ::/0, as nginx tutorials write
// set_real_ip_from), and prefixes that cover one together (0.0.0.0/1 and
// 128.0.0.0/1, as VPN configurations write a default route): every peer
// and every hop would be trusted, and the left-most hop, which the client
// writes, would be its address.
//
// Listing both headers with [WithHeaders] makes the resolver read the first
// one that is present. Every trusted proxy must then write both, or a client
// can send the one a proxy passes through untouched and choose its own
// address. Configure only the header your proxies write.
//
// Addresses are canonicalised before they are compared or returned: an
// IPv4-mapped IPv6 address (::ffff:10.0.0.1) becomes IPv4 (10.0.0.1), so a
// hop cannot dodge an IPv4 trusted prefix by writing the mapped form, and an
// IPv6 zone (fe80::1%eth0) is stripped, so a zoned hop cannot dodge an IPv6
// trusted prefix either (netip.Prefix.Contains never matches a zoned
// address). The zone names an interface of the host that wrote it, which
// means nothing to this one; the cost is that trusting fe80::/10 trusts
// link-local neighbours on every interface. A trusted prefix written in
// IPv4-mapped form (::ffff:10.0.0.0/104) is converted to IPv4.
//
// X-Real-IP and similar single-value headers are never read: they cannot
// say which hop wrote them. [Resolver.Handler] removes them, and all other
// forwarding headers, from requests whose peer is not trusted, so that
// handlers and upstreams further on cannot be fooled by them.
//
// The resolved address is a fact about the network path, not an identity:
// a client behind a shared NAT or a trusted proxy's own fault shares or
// loses it. Use it for allow lists, rate limits and logs, together with
// authentication rather than instead of it.
package clientip
