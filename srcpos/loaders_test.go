package srcpos_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/compose"
	"github.com/wardsec/ward/dockerfile"
	"github.com/wardsec/ward/guard/authz"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/proxy"
	"github.com/wardsec/ward/srcpos"
	"github.com/wardsec/ward/watch/detect"
	"github.com/wardsec/ward/watch/event"
	"github.com/wardsec/ward/watch/source"
)

// problems keeps the first problem a source reports.
type problems struct{ first error }

func (p *problems) Deliver([]event.Event) error { return nil }
func (p *problems) Problem(pr event.Problem) {
	if p.first == nil {
		p.first = pr.Err
	}
}

// TestLoaders: every loader reports bad input as a *srcpos.Error naming
// the file and the line at fault.
func TestLoaders(t *testing.T) {
	for _, tc := range []struct {
		loader string
		load   func() error
		line   int
	}{
		{"manifest", func() error {
			_, err := manifest.Parse(manifest.Options{}, "pod.yaml", []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers: 5\n"))
			return err
		}, 0},
		{"assertion", func() error {
			_, err := assertion.Parse("ward.yaml", []byte("assertions:\n  - name: a\n    expect: maybe\n    from: {namespace: x}\n    to: {namespace: y}\n"))
			return err
		}, 2},
		{"proxy", func() error {
			_, err := proxy.ParseConfig("proxy.yaml", []byte("upstream:\n  url: http://127.0.0.1:1\nlisten: [\n"))
			return err
		}, 0},
		{"authz", func() error {
			_, err := authz.Load("authz.yaml", []byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: b}\nspec:\n  actoin: ALLOW\n"))
			return err
		}, 5},
		{"compose", func() error {
			_, err := compose.Audit("compose.yaml", []byte("services:\n  web:\n    image: x\n  - bad\n"), compose.Options{})
			return err
		}, 0},
		{"watch config", func() error {
			_, err := detect.ParseConfig("watch.yaml", []byte("portScan:\n  distinctPorts: 0\n"))
			return err
		}, 2},
		{"hubble line", func() error {
			var c problems
			l := &source.Lines{Label: "hubble", Path: "flows.json", In: strings.NewReader("{}\n{\"flow\":\n"), Decoder: source.NewHubble()}
			if err := l.Run(context.Background(), &c); err != nil {
				return err
			}
			return c.first
		}, 2},
		{"dockerfile", func() error {
			_, err := dockerfile.Audit("Dockerfile", []byte("RUN true\n"), dockerfile.Options{})
			return err
		}, 1},
	} {
		t.Run(tc.loader, func(t *testing.T) {
			err := tc.load()
			var pe *srcpos.Error
			if !errors.As(err, &pe) {
				t.Fatalf("%v (%T): not a *srcpos.Error", err, err)
			}
			if pe.File == "" || tc.line > 0 && pe.Line != tc.line || pe.Line < 0 {
				t.Errorf("%v: at %s:%d, want the file and line %d", err, pe.File, pe.Line, tc.line)
			}
		})
	}
}
