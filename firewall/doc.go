// Package firewall enforces Kubernetes NetworkPolicies between the
// containers of a host, such as a Docker or Compose host, with nftables.
// This part is pure: an Inventory of containers and networks, plus
// policies, compiles into a Ruleset, a value whose String is `nft -f`
// input for a table of Ward's own, table inet ward. Loading it into the
// kernel is another layer's job.
//
// # Inventory
//
// An inventory describes the containers and networks of a host (Docker's
// view of it, or a file for hosts without Docker and for tests):
//
//	networks:
//	  - name: backend              # managed address space
//	    subnets: [10.20.2.0/24, "fd00:20:2::/64"]
//	    internal: false            # informational: Docker enforces it
//	containers:
//	  - name: orders
//	    namespace: api             # the Compose project; default "default"
//	    labels: {app: orders}      # what podSelectors match
//	    ips: [10.20.2.11, "fd00:20:2::11"]
//	    ports:                     # what named ports resolve to
//	      - {name: http, port: 8080, protocol: TCP}   # protocol: TCP (default), UDP, SCTP
//	    hostNetwork: false         # true: uses the host's stack (ips optional)
//	    interfaces: [veth3f2a1c9]  # optional: its bridge ports, bound to its ips
//	    macs: ["02:42:0a:14:02:0b"] # optional: its MAC addresses, bound too
//
// Decoding is strict and every error is a *manifest.Error with the file and
// line, wrapping ErrUnknownField, ErrMissingAddress, ErrBadAddress,
// ErrOutsideNetworks, ErrDuplicate or ErrInvalid: unknown fields, a
// container without an address, an address or MAC address that does not
// parse (or a MAC address that is not a unicast EUI-48 one), an address
// in none of the declared subnets (an IPv6 address where only IPv4 subnets
// are declared: an address family mismatch), an address or name used
// twice. Inventory.Set turns each container into a bare Pod with its
// labels, ports and addresses (status.podIPs), next to the NetworkPolicies
// and Namespaces (with their labels) of a policy path: the engine (package
// netpol) then decides everything, and Compile only encodes its answer.
//
// # Addresses
//
// Every address is one of three things: a container's (it belongs to the
// engine class of the container's endpoint); unclassified (in a declared
// subnet but owned by no container: a container Ward has not classified
// yet, or a stale address); or external (it belongs to the engine class of
// the external endpoint holding it, which ipBlocks tell apart). External
// addresses are never isolated, as in the engine.
//
// # The ruleset
//
// Compile reads the engine's factored class view (netpol.Summary), in which
// allowed(S, D) = egress(S, D) ∩ ingress(S, D): egress is every port when
// S's class is not egress-isolated, else the union of its egress grants
// whose group holds D's class; ingress likewise on D's side. The ruleset
// encodes exactly that, with one chain per isolated class and direction,
// never one per pair of classes:
//
//   - a set per group and family (g5_v4, g5_v6, flags interval): the
//     addresses of the group's classes, merged into ranges (external
//     ranges without container addresses, so that a set holds exactly its
//     classes);
//   - verdict maps keyed by address (egress_v4, egress_v6 by source;
//     ingress_v4, ingress_v6 by destination): an address of an
//     egress-isolated class maps to "jump eg_c3", of an ingress-isolated
//     class to "jump in_c3", an unclassified range to "jump unclassified";
//     other addresses have no element;
//   - base chain forward (hook forward, priority filter - 10: before
//     Docker's filter chains, with either of its backends; policy accept):
//     ICMP and ICMPv6 redirects to managed addresses dropped (a forged
//     one is related to the connection it quotes); related ICMP and
//     ICMPv6 packets go through the maps icmp_err_v4
//     and icmp_err_v6 (by source address) to chains of 64 container
//     addresses each, which drop an error from a container's address that
//     quotes a packet to another address (a forged error about another
//     pair's connection); ct state established,related accept; ct state
//     invalid counter drop;
//     IPv6 neighbour, router and multicast listener discovery accept;
//     then the egress stage (ip saddr vmap @egress_v4, ip6 saddr vmap
//     @egress_v6) and the ingress stage (ip daddr vmap @ingress_v4, ip6
//     daddr vmap @ingress_v6);
//   - chain eg_c3: a rule per egress grant, family, protocol and port
//     range, "ip daddr @g5_v4 tcp dport 8000-8080 return" (a grant of
//     every port has no port match; never a list such as "{ 80, 443 }",
//     which nft makes an anonymous set: thousands of those make the
//     kernel's loading quadratic), then a rate-limited log rule and
//     "counter drop"; chain in_c3 likewise with ip saddr;
//   - chain unclassified: a rate-limited log rule and "counter drop".
//
// Why this is exact: a vmap element jumps into the class's chain; a grant
// that matches returns to the base chain, which goes on to the next stage;
// a chain whose grants all miss drops. An address with no element is not
// isolated in that direction, so its stage is skipped. A packet that
// passes both stages reaches the end of the base chain and its policy,
// accept. So a packet passes iff egress(S, D) and ingress(S, D) hold for
// its protocol and port. Between two external addresses neither map has
// an element and the packet is accepted: traffic that involves no
// container is not Ward's business. A drop in Ward's table is final for the
// packet; an accept only ends Ward's chain, and later base chains (Docker's)
// still run, so Ward only ever takes away. The tests check all this with an
// interpreter of the Ruleset structure against the engine's Allowed, for
// every pair of addresses on every interesting port.
//
// Cost: per packet, at most two map lookups (logarithmic in the elements,
// whatever the number of rules) and the grant rules of at most two
// classes. Size: the set elements of each group, one map element per
// address range of an isolated class, and rules per grant of each class:
// it grows with classes, grants and members, not with pairs of classes.
//
// # The host
//
// The input chain (packets to the host) runs only the source's egress
// stage, and the output chain (packets from the host) only the
// destination's ingress stage, after accepting loopback traffic and
// replies: the host itself is never isolated, and its own addresses, even a
// gateway address inside a declared subnet, are judged the way the engine
// judges any address no container owns, as an external address, unless a
// hostNetwork container in the inventory names it. Only the unclassified
// check applies to the container side. Invalid packets are dropped only in
// the forward chain; the input and output chains touch nothing but packets
// whose other end is a container address or an unclassified one.
//
// # The unclassified window
//
// Between a container starting and Ward classifying it (re-compiling and
// loading the ruleset), its address is unclassified. By default traffic
// from and to unclassified addresses is dropped, in every chain: the
// newcomer cannot talk until its rules land, failing closed, and a
// stopped container's reused address never inherits its permissions. With
// Options.AllowUnclassified the window is open: unclassified addresses are
// judged as external addresses, as the engine judges any address it does
// not know. The newcomer then gets what ipBlocks and non-isolated classes
// give such an address (more than its own policies may allow, until it is
// classified), while isolated containers still refuse it unless an ipBlock
// admits it. Subnet broadcast addresses are unclassified too.
//
// # Quarantine
//
// Inventory.Quarantined lists containers Ward could not classify (package
// dockerinv, for `ward fw run`: a label that does not parse, a name two
// containers claim). They are no workloads, and their addresses jump to
// the unclassified chain both ways, whatever Options.AllowUnclassified
// says, so that one bad container is shut out while the others are
// synced as usual.
//
// # Protocols and ports
//
// IPv4 and IPv6; TCP, UDP and SCTP, with named ports already resolved by
// the engine per destination class. A grant of every port of every
// protocol (a rule without ports) has no port match, so it also admits
// other protocols such as ICMP; isolated classes drop those otherwise,
// apart from ICMP errors of tracked connections (ct state related) and
// IPv6 link control traffic. A grant of a protocol's whole port range is
// written "meta l4proto tcp", which also admits port 0.
//
// # Observability
//
// Every drop rule has a counter. Every dropping chain first logs at most
// Options.LogRate packets a second (default 10) with the prefix
// "ward-drop <stage> <class> " ("ward-drop egress c3 ", "ward-drop
// unclassified "), for later detection; the limit is a match of its own
// rule, so a packet over it is still dropped. Connections are checked when
// they start: replies and established connections are accepted, so when a
// policy tightens, connections it no longer allows must be removed from
// conntrack by whoever applies the ruleset.
//
// # Loading
//
// Apply loads a Ruleset into the kernel through netlink (no nft binary):
// in one batch it deletes Ward's table if present and adds the new one,
// so the kernel switches atomically from the old ruleset to the new, and
// a batch it rejects changes nothing. Since the kernel's lookups in a
// batch's new interval maps can miss for a moment after its rules go live
// (an isolated container's ingress then skipped), the new ruleset is
// first loaded into a table of its own, SwapTableName, which judges every
// packet beside the old table while Ward's table is replaced, and is
// deleted afterwards. The expressions are those nft
// generates for Ruleset.String, so `nft list table inet ward` prints that
// text back (with counter values). Remove deletes the table; Status
// reports whether it is present and what it holds. NewConn makes a
// connection with socket buffers large enough for big rulesets.
//
// One thing lies outside the tables: a frame to a link-local group
// address such as LLDP's 01:80:c2:00:00:0e reaches no netfilter hook of a
// bridge, yet the bridge learns its source MAC address. The ruleset names
// the bridges whose ports it binds to MAC addresses
// (Ruleset.NoLinkLocalLearn), and SetLinkLocalLearning sets their option
// no_linklocal_learn through rtnetlink; whoever applies the ruleset calls
// it after Apply.
package firewall
