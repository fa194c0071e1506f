package detect_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
)

// Fifteen refused ports on one host within five minutes: Zeek's port scan.
func Example() {
	d := detect.New(detect.Default(), nil, nil, func(a *detect.Alert) {
		fmt.Println(a.State, a.Detector, a.Source.Address, "->", a.Dest.Address, a.Count)
	})
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	var obs []detect.Observation
	for p := range 16 {
		e := &event.Event{Time: t0.Add(time.Duration(p) * time.Second).UnixNano(), Kind: event.Flow,
			Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"),
			DstPort: uint16(20 + p), Proto: event.TCP, Flags: event.SYN, Verdict: event.Dropped}
		obs = append(obs, detect.Observation{E: e})
	}
	d.Observe(obs)
	d.Close()
	// Output:
	// open port-scan 192.0.2.1 -> 192.0.2.2 15
	// closed port-scan 192.0.2.1 -> 192.0.2.2 16
}
