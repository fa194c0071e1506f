package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWatchDNS replays Cilium's DNS records (--hubble) and CoreDNS's
// query log (--coredns): a tunnel and a zone transfer are alerts (exit
// 1), the shop's own lookups are not, a bad CoreDNS line is reported at
// its file and line (exit 2).
func TestWatchDNS(t *testing.T) {
	hubble, err := os.ReadFile(filepath.Join(root, "watch", "testdata", "dns.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	coredns, err := os.ReadFile(filepath.Join(root, "watch", "testdata", "coredns.log"))
	if err != nil {
		t.Fatal(err)
	}
	// The first 8 records are web-1's lookups: a service, a search-path
	// expansion, an external name.
	benign := strings.Join(strings.Split(string(hubble), "\n")[:8], "\n") + "\n"
	man := []string{"--manifests", "watch/testdata/shop.yaml", "--config", "watch/testdata/watch.yaml"}
	for _, tc := range []struct {
		name           string
		stdin          string
		args           []string
		code           int
		stdout, stderr []string
	}{
		{"Hubble DNS records: a tunnel and a zone transfer", "", append([]string{"watch", "--hubble", "watch/testdata/dns.jsonl", "-o", "text"}, man...), 1,
			[]string{"high     dns-tunnel        open   dev/Pod/tool asked for 9 distinct names under evil.example within 1h0m0s",
				"high     dns-zone-transfer open   dev/Pod/tool asked for a zone transfer (AXFR) of cluster.local"},
			[]string{"ward: watch: 28 events", "0 bad records", "alerts: dns-tunnel 1, dns-zone-transfer 1"}},
		{"CoreDNS log: a long name", "", append([]string{"watch", "--coredns", "watch/testdata/coredns.log"}, man...), 1,
			[]string{`"detector":"dns-tunnel","severity":"high","state":"open","summary":"dev/Pod/tool asked for a name of 113 characters under evil.example`,
				`"destination":{"identity":"domain","group":"evil.example"}`, `"origin":"coredns","kind":"request"`, `"qtype":"TXT","rcode":"NOERROR","size":300`},
			[]string{"ward: watch: 5 events", "0 bad records", "alerts: dns-tunnel 1"}},
		{"both at once: one incident for the client and domain", "", append([]string{"watch", "--hubble", "watch/testdata/dns.jsonl", "--coredns", "watch/testdata/coredns.log"}, man...), 1,
			nil, []string{"ward: watch: 33 events", "alerts: dns-tunnel 1, dns-zone-transfer 1"}},
		{"the shop's own lookups: nothing", benign, append([]string{"watch", "--hubble", "-"}, man...), 0,
			nil, []string{"ward: watch: 8 events", "lost by producers, no alerts"}},
		{"a bad CoreDNS line: file:line, exit 2", string(coredns) + "[INFO] 10.244.0.20:1 - 2 \"A IN x. udp 1 false 512\" NOERR\n", append([]string{"watch", "--coredns", "-"}, man...), 2,
			[]string{`"detector":"dns-tunnel"`},
			[]string{"ward: warning: -:11: want 4 fields after the question", "ward: 1 bad records: the input was not read whole"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tc.code, stderr)
			}
			checkOrdered(t, "stdout", stdout, tc.stdout)
			checkOrdered(t, "stderr", stderr, tc.stderr)
		})
	}
}
