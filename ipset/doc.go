// Package ipset provides Range, an inclusive interval of IP addresses of one
// family, and Set, a sorted union of disjoint ranges.
//
// NetworkPolicy ipBlocks are CIDRs with excepted sub-CIDRs. Ward cuts the
// address space into disjoint ranges at every cidr and except boundary, so
// every range is either wholly inside or wholly outside each ipBlock; these
// types carry those ranges and turn them back into CIDRs for output.
// net/netip has prefixes and addresses but no range arithmetic, which is why
// this small package exists.
package ipset
