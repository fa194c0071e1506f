package detect

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wardsec/ward/srcpos"
)

// FuzzParseConfig holds the loader of ward watch's detector configuration
// (ward watch --config) to Ward's input contract on any bytes: no panic; an
// error is a *srcpos.Error naming the file and, when it has one, a line
// inside the input; a configuration it accepts passes validate.
func FuzzParseConfig(f *testing.F) {
	for _, doc := range []string{
		"portScan:\n  distinctPorts: 20\n  window: 1m\nclusterCIDRs: [10.244.0.0/16]\negress:\n  allow: [192.0.2.0/24]\n",
		"synFlood:\n  pps: 0\n",
		"icmpFlood:\n  window: -5s\n",
		"dnsTunnel: {clusterDomain: cluster.local., distinctNames: 100, maxName: 60}\n",
		"limits: {maxTracked: 1073741825}\n",
		"incidents: {idle: 1h, maxDuration: 1m, samples: 3}\n",
		"portScan: {}\n---\nsynFlood: {}\n",
		"x: &a [1, *a]\n",
		"baseline: {learn: 24h}\n",
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		// yaml breaks lines at \n, \r and, as YAML 1.1 does, at NEL,
		// LS and PS (U+0085, U+2028, U+2029): an upper bound.
		lines := 1
		for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
			lines += bytes.Count(data, []byte(br))
		}
		c, err := ParseConfig("watch.yaml", data)
		if err != nil {
			var pe *srcpos.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is a %T, not a *srcpos.Error", err, err)
			}
			if pe.File != "watch.yaml" || pe.Line < 0 || pe.Line > lines {
				t.Fatalf("error %v: location %s:%d outside the input of %d lines", err, pe.File, pe.Line, lines)
			}
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("accepted a configuration that validate refuses: %v", err)
		}
	})
}
