// Package nflog reads packets that nftables rules log to an nflog group
// (`log group N`), over the nfnetlink_log netlink protocol, and parses the
// IP and transport headers of what they copied.
//
// `ward fw --log-group N` logs its drops there; `ward watch` turns each
// into a policy event. A reader binds its group in one network namespace
// (only one reader a group), and every packet the kernel could not
// deliver to it is counted: the kernel numbers the packets of a group,
// and a gap in the numbers is a loss (Conn.Lost), besides the socket's
// buffer overruns (Conn.Overruns).
package nflog
