package source

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/bench.jsonl")

// genHubble makes n realistic Hubble export lines: pods of a few
// namespaces talking TCP (SYN, SYN|ACK, ACK, RST), UDP and ICMP, with
// labels, uuids and the fields Hubble adds that Ward skips.
func genHubble(r *rand.Rand, n int) [][]byte {
	verdicts := []string{"FORWARDED", "FORWARDED", "FORWARDED", "DROPPED", "AUDIT"}
	ns := []string{"shop", "payments", "kube-system", "default"}
	apps := []string{"web", "api", "db", "cache", "worker", "coredns"}
	out := make([][]byte, 0, n)
	for i := range n {
		var b strings.Builder
		sns, dns := ns[r.IntN(len(ns))], ns[r.IntN(len(ns))]
		sapp, dapp := apps[r.IntN(len(apps))], apps[r.IntN(len(apps))]
		src := fmt.Sprintf("10.244.%d.%d", r.IntN(4), 1+r.IntN(250))
		dst := fmt.Sprintf("10.244.%d.%d", r.IntN(4), 1+r.IntN(250))
		if r.IntN(8) == 0 {
			dst = fmt.Sprintf("fd00::%x", 1+r.IntN(4000))
			src = fmt.Sprintf("fd00::%x", 1+r.IntN(4000))
		}
		sec := i / 50
		t := fmt.Sprintf("2026-12-06T07:%02d:%02d.%09dZ", (sec/60)%60, sec%60, r.IntN(1e9))
		v := verdicts[r.IntN(len(verdicts))]
		fmt.Fprintf(&b, `{"flow":{"time":%q,"uuid":"%08x-1c1a-4c1b-9d9e-%012x","verdict":%q,`, t, r.Uint32(), r.Uint64()&0xffffffffffff, v)
		if v == "DROPPED" {
			b.WriteString(`"drop_reason":133,`)
		}
		fmt.Fprintf(&b, `"ethernet":{"source":"ca:fe:%02x:00:00:01","destination":"ca:fe:%02x:00:00:02"},`, r.IntN(256), r.IntN(256))
		fmt.Fprintf(&b, `"IP":{"source":%q,"destination":%q,"ipVersion":"IPv%d"},`, src, dst, map[bool]int{true: 6, false: 4}[strings.Contains(src, ":")])
		switch k := r.IntN(10); {
		case k < 7:
			flags := []string{`"SYN":true`, `"SYN":true,"ACK":true`, `"ACK":true`, `"ACK":true,"PSH":true`, `"RST":true,"ACK":true`, `"FIN":true,"ACK":true`}[r.IntN(6)]
			fmt.Fprintf(&b, `"l4":{"TCP":{"source_port":%d,"destination_port":%d,"flags":{%s}}},`, 1024+r.IntN(60000), []int{80, 443, 5432, 6379, 8080}[r.IntN(5)], flags)
		case k < 9:
			fmt.Fprintf(&b, `"l4":{"UDP":{"source_port":%d,"destination_port":53}},`, 1024+r.IntN(60000))
		default:
			fmt.Fprintf(&b, `"l4":{"ICMPv4":{"type":8}},`)
		}
		fmt.Fprintf(&b, `"source":{"ID":%d,"identity":%d,"namespace":%q,"labels":["k8s:app=%s","k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=%s","k8s:io.cilium.k8s.policy.cluster=kind-kind","k8s:io.cilium.k8s.policy.serviceaccount=%s","k8s:io.kubernetes.pod.namespace=%s"],"pod_name":"%s-%x-%s"},`,
			r.IntN(4000), 1000+r.IntN(60000), sns, sapp, sns, sapp, sns, sapp, r.Uint32(), "abcde")
		fmt.Fprintf(&b, `"destination":{"ID":%d,"identity":%d,"namespace":%q,"labels":["k8s:app=%s","k8s:io.kubernetes.pod.namespace=%s"],"pod_name":"%s-%x"},`,
			r.IntN(4000), 1000+r.IntN(60000), dns, dapp, dns, dapp, r.Uint32())
		fmt.Fprintf(&b, `"Type":"L3_L4","node_name":"kind-kind/kind-worker%d","event_type":{"type":4,"sub_type":3},"traffic_direction":%q,"trace_observation_point":"TO_ENDPOINT",`, r.IntN(3), []string{"INGRESS", "EGRESS"}[r.IntN(2)])
		if r.IntN(2) == 0 {
			b.WriteString(`"is_reply":false,`)
		} else {
			b.WriteString(`"is_reply":true,`)
		}
		fmt.Fprintf(&b, `"Summary":"TCP Flags: SYN","interface":{"index":%d,"name":"lxc%x"}},"node_name":"kind-kind/kind-worker","time":%q}`, r.IntN(40), r.Uint32(), t)
		out = append(out, []byte(b.String()))
	}
	return out
}

// TestGenerateBench writes testdata/bench.jsonl with -update: the lines
// every Hubble benchmark and the differential test read.
func TestGenerateBench(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata/bench.jsonl")
	}
	var b []byte
	for _, l := range genHubble(rand.New(rand.NewPCG(15, 15)), 1000) {
		b = append(append(b, l...), '\n')
	}
	if err := os.WriteFile("testdata/bench.jsonl", b, 0o600); err != nil {
		t.Fatal(err)
	}
}
