package netnsfile_test

import (
	"log"

	"github.com/google/nftables"

	"github.com/wardsec/ward/internal/netnsfile"
)

// A namespace of one's own, where a test or a benchmark may change
// nftables without touching the machine's (compiled only: it needs root).
func Example() {
	ns, err := netnsfile.New()
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = ns.Close() }()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd()))) // #nosec G115 -- a file descriptor fits an int
	if err != nil {
		log.Fatal(err)
	}
	_ = conn // conn.AddTable(...), conn.Flush() change only that namespace
}
