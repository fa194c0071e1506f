package fleet_test

import (
	"fmt"
	"net/netip"

	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/fleet"
)

// An event as it travels to the detectors: encoded by the publisher,
// decoded by the consumer, unchanged.
func Example() {
	e := event.Event{Time: 1_765_000_000e9, ID: event.ID(event.OriginConntrack, []byte("conn 42")),
		Src: netip.MustParseAddr("10.0.3.17"), Dst: netip.MustParseAddr("10.0.5.2"), SrcPort: 43122, DstPort: 5432,
		Proto: event.TCP, Origin: event.OriginConntrack, Kind: event.ConnNew, Verdict: event.Forwarded, Node: "worker-3"}
	msg := fleet.Append(nil, &e)

	var got event.Event
	if err := fleet.NewDecoder().Decode(msg, &got); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(msg), "bytes;", got == e)

	// A truncated message is an error, never a panic.
	fmt.Println(fleet.NewDecoder().Decode(msg[:20], &got))
	// Output:
	// 66 bytes; true
	// truncated or malformed IPv4 address at byte 19
}
