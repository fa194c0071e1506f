package dockerinv_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/wardsec/ward/dockerinv"
	"github.com/wardsec/ward/firewall"
	"github.com/wardsec/ward/portset"
)

func TestParsePorts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []firewall.Port
	}{
		{"", nil},
		{"  ", nil},
		{"http=8080/TCP,metrics=9100/TCP", []firewall.Port{{Name: "http", Port: 8080, Protocol: portset.TCP}, {Name: "metrics", Port: 9100, Protocol: portset.TCP}}},
		{"dns=53/udp", []firewall.Port{{Name: "dns", Port: 53, Protocol: portset.UDP}}},
		{"web=80", []firewall.Port{{Name: "web", Port: 80, Protocol: portset.TCP}}},
		{" a1=1 , sig-tran=65535/Sctp ", []firewall.Port{{Name: "a1", Port: 1, Protocol: portset.TCP}, {Name: "sig-tran", Port: 65535, Protocol: portset.SCTP}}},
		// One port number, two protocols, two names.
		{"dns=53/UDP,dns-tcp=53/TCP", []firewall.Port{{Name: "dns", Port: 53, Protocol: portset.UDP}, {Name: "dns-tcp", Port: 53, Protocol: portset.TCP}}},
	} {
		got, err := dockerinv.ParsePorts(tc.in)
		if err != nil {
			t.Errorf("ParsePorts(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParsePorts(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParsePortsBad(t *testing.T) {
	for _, in := range []string{
		"http:8080",               // not name=port
		"8080/TCP",                // no name
		"=8080",                   // empty name
		"http=",                   // no port
		"http=0",                  // out of range
		"http=65536",              // out of range
		"http=-1",                 // sign
		"http=+80",                // sign
		"http=080",                // leading zero
		"http=80 /TCP",            // space inside
		"http=80/ICMP",            // protocol
		"http=80/",                // empty protocol
		"http=80/TCP/x",           // trailing junk
		"HTTP=80",                 // upper case name
		"80=80",                   // name without a letter
		"-http=80",                // leading hyphen
		"a--b=80",                 // double hyphen
		"averyveryverylongname=1", // over 15 characters
		"http=80,",                // empty entry
		",http=80",                // empty entry
		"http=80,,metrics=9100",   // empty entry
		"http=80,http=81",         // name twice
		"http=80,web=80/tcp",      // one port named twice
	} {
		got, err := dockerinv.ParsePorts(in)
		if err == nil {
			t.Errorf("ParsePorts(%q) = %v, want an error", in, got)
			continue
		}
		if !errors.Is(err, dockerinv.ErrPortsLabel) {
			t.Errorf("ParsePorts(%q): %v does not wrap ErrPortsLabel", in, err)
		}
	}
}

// FuzzParsePorts: never a panic, and what parses is what a Pod could
// declare.
func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"http=8080/TCP,metrics=9100/TCP", "dns=53/udp", "a=1,b=2/SCTP", "x=", ",", "http:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ports, err := dockerinv.ParsePorts(in)
		if err != nil {
			if !errors.Is(err, dockerinv.ErrPortsLabel) {
				t.Fatalf("ParsePorts(%q): %v does not wrap ErrPortsLabel", in, err)
			}
			return
		}
		names := map[string]bool{}
		for _, p := range ports {
			if msgs := validation.IsValidPortName(p.Name); len(msgs) > 0 || names[p.Name] || p.Port == 0 {
				t.Fatalf("ParsePorts(%q) = %v: invalid or repeated port %v", in, ports, p)
			}
			names[p.Name] = true
		}
	})
}
