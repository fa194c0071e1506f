package live_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/live"
)

func Example() {
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	v := live.New(start)
	v.Alert(&detect.Alert{Last: "2026-12-06T08:00:03Z", Severity: "high", Detector: "port-scan", State: "open", Summary: "10.0.0.9 scanned 15 ports of shop/Pod/db-0"})
	var b strings.Builder
	_ = v.Render(&b, start.Add(5*time.Second), live.Status{Events: 40, Judged: 30})
	// The frame starts by clearing the terminal.
	fmt.Println(strings.TrimPrefix(b.String(), "\x1b[H\x1b[2J"))
	// Output:
	// ward watch  08:00:05  up 5s  events 40 (8/s)  judged 30  not judged 0  lost 0  bad records 0
	//
	// TOP TALKERS
	//      conns      bytes  conversation
	//   (none yet)
	//
	// DROPS 0
	//
	// RECENT ALERTS
	//   2026-12-06T08:00:03Z high     port-scan          open   10.0.0.9 scanned 15 ports of shop/Pod/db-0
}
