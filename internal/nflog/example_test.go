package nflog_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/nflog"
)

func ExampleParseHeaders() {
	// The start of a TCP SYN from 10.0.0.2:40000 to 10.0.1.5:5432, as a
	// log rule copies it.
	pkt := []byte{
		0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0, // IPv4, 60 bytes, DF, TTL 64, TCP
		10, 0, 0, 2, 10, 0, 1, 5,
		0x9c, 0x40, 0x15, 0x38, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, // ports, seq, ack, offset, SYN
	}
	h, err := nflog.ParseHeaders(pkt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v:%d -> %v:%d proto %d syn %v\n", h.Src, h.SrcPort, h.Dst, h.DstPort, h.Proto, h.TCPFlags&nflog.TCPSyn != 0)
	// Output: 10.0.0.2:40000 -> 10.0.1.5:5432 proto 6 syn true
}
