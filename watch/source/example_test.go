package source_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/source"
)

type printSink struct{}

func (printSink) Deliver(b []event.Event) error {
	for _, e := range b {
		fmt.Println(e.Verdict, e.Proto, event.Endpoint(e.Src, e.SrcPort), "->", event.Endpoint(e.Dst, e.DstPort), e.Flags)
	}
	return nil
}

func (printSink) Problem(p event.Problem) { fmt.Println("problem:", p.Err) }

func Example() {
	in := `{"flow":{"time":"2023-08-21T12:12:18.510175415Z","verdict":"DROPPED","IP":{"source":"10.244.1.60","destination":"10.244.1.5","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":44916,"destination_port":80,"flags":{"SYN":true}}},"source":{"namespace":"default","pod_name":"xwing"},"drop_reason_desc":"POLICY_DENIED"}}
{"flow":{"time":"2023-08-21T12:12:18Z","verdict":"FORWARDED","IP":{"source":"10.244.1.60"
`
	src := &source.Lines{Label: "hubble", Path: "flows.json", In: strings.NewReader(in), Decoder: source.NewHubble()}
	if err := src.Run(context.Background(), printSink{}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// DROPPED TCP 10.244.1.60:44916 -> 10.244.1.5:80 SYN
	// problem: flows.json:2: column 90: unexpected end of line (truncated record?)
}
