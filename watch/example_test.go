package watch_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/wardsec/ward/watch"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/source"
)

func Example() {
	var lines strings.Builder
	for port := 1; port <= 15; port++ {
		fmt.Fprintf(&lines, `{"flow":{"time":"2026-12-06T07:00:%02dZ","verdict":"DROPPED","IP":{"source":"192.0.2.1","destination":"192.0.2.2"},"l4":{"TCP":{"source_port":40000,"destination_port":%d,"flags":{"SYN":true}}}}}`+"\n", port, port)
	}
	var alerts strings.Builder // JSON lines, one per alert report
	p, err := watch.New(watch.Options{Config: detect.Default(), Alerts: &alerts})
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := watch.Run(context.Background(), p, &source.Lines{Label: "hubble", Path: "-", In: strings.NewReader(lines.String()), Decoder: source.NewHubble()})
	fmt.Println(sum.Events, "events,", sum.Alerts, err)
	fmt.Println(strings.Count(alerts.String(), "\n"), "reports")
	// Output:
	// 15 events, map[port-scan:1] <nil>
	// 2 reports
}
