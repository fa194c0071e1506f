// Package lab proves that a compiled nftables ruleset does what the
// NetworkPolicy engine says, with real packets between test hosts in
// network namespaces.
//
// NewPlan compiles the policies for the containers of an inventory (from
// an inventory file, or from manifests with firewall.FromManifests, which
// keeps the pod IPs manifests give and assigns lab addresses to the
// others), as `ward fw` does, and lists the truth table: every ordered
// pair of different hosts, every port number the destination declares,
// every protocol (TCP, UDP, SCTP) and every address family both hosts
// have, with the engine's verdict. The ruleset never decides what is
// expected.
//
// Run (or Start, Load, Probe and Close) builds the lab, all inside
// namespaces of its own, never touching the root namespace's links,
// addresses, sysctls or ruleset:
//
//   - a router namespace ("wardlab-<pid>-<random>-r") holding a bridge and
//     the ruleset, loaded with firewall.Apply, and no route out; its
//     net.bridge.bridge-nf-call-iptables and -ip6tables sysctls are set to
//     1 so that bridged traffic crosses the inet forward hook (br_netfilter),
//     and the lab refuses to run when they cannot be;
//   - per host a namespace ("...-h<n>") with a veth, eth0, whose peer is a
//     port of the bridge, the host's addresses (/32 and /128, without
//     duplicate address detection) and on-link default routes, so hosts of
//     any subnets share the bridge;
//   - per host address and declared port number, TCP and UDP listeners,
//     and SCTP ones when the kernel supports SCTP, answering with the
//     host's ID so that a probe knows it reached the right host.
//
// Probes run concurrently (Options.Parallel) with a short timeout: an
// answer is "allowed", none in time is "blocked" (a drop). An attempt that
// disagrees with the engine is repeated, waiting three times as long,
// before it counts as a mismatch. Probes that cannot run, such as SCTP on
// a kernel without it, are counted and reported with their reason, never
// dropped and never mismatches. The Result prints the observed table with
// mismatches marked, as text or JSON.
//
// Namespaces are bind-mounted under /run/netns, as `ip netns add` does.
// Close removes them and everything inside them (links, ruleset,
// sockets); Cleanup removes those of labs whose process is gone, such as
// a run killed with SIGKILL.
//
// It needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and Linux.
package lab
