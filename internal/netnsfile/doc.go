// Package netnsfile creates anonymous network namespaces held by a file:
// unshare(CLONE_NEWNET) on a locked OS thread that is never unlocked (it
// ends with its goroutine, and with it its membership of the namespace),
// and the thread's /proc namespace file kept open. Tests and benchmarks
// change nftables, links and sysctls there, never in the machine's own
// namespace; the namespace lives as long as the file.
package netnsfile
