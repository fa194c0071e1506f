package ethframe_test

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/wardsec/ward/internal/ethframe"
)

// A frame claiming 10.0.0.2 as its source, as a test sends it from
// another host to prove that the forgery is dropped; parsed back as the
// receiver's packet socket sees it (without the Ethernet header).
func Example() {
	srcMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	dstMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 3}
	frame, err := ethframe.UDP(srcMAC, dstMAC,
		netip.MustParseAddrPort("10.0.0.2:40000"), netip.MustParseAddrPort("10.0.0.3:53"), []byte("ward-probe"))
	if err != nil {
		panic(err)
	}
	d, ok := ethframe.ParseUDP(frame[14:])
	fmt.Println(len(frame), ok, d.Src, d.Dst, string(d.Payload))
	// Output: 52 true 10.0.0.2:40000 10.0.0.3:53 ward-probe
}
