package compose

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/finding"
)

// registryCases are the compose/untrusted-registry cases, audited with
// the trusted list of trustedOpts unless noList.
var registryCases = []struct {
	name   string
	src    string
	noList bool
	want   []hit
	msg    string // a substring of the first finding's message
}{
	{name: "images from untrusted registries", src: `services:
  web:
    image: quay.io/someone/web:1.0
  cache:
    image: bitnami/redis:7.2
`, want: []hit{{3, finding.Medium}, {5, finding.Medium}}, msg: "quay.io/someone/web"},
	{name: "a registry variable without a value", src: `services:
  api:
    image: ${REGISTRY}/api:1
`, want: []hit{{3, finding.Medium}}, msg: "not a valid image reference"},
	{name: "trusted images, a default registry and a built image", src: `services:
  web:
    image: nginx:1.27
  api:
    image: ${REGISTRY:-ghcr.io/myorg}/api:1
  worker:
    build: ./worker
    image: someone/worker:dev
`},
	{name: "no list configured: silent", noList: true, src: `services:
  web:
    image: quay.io/someone/web:1.0
`},
}

var trustedOpts = Options{TrustedRegistries: []string{"registry.example.com", "ghcr.io/myorg", "docker.io/library"}}

func TestUntrustedRegistry(t *testing.T) {
	for _, tc := range registryCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := trustedOpts
			if tc.noList {
				opts = Options{}
			}
			fs, err := Audit("compose.yaml", []byte(tc.src), opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []hit
			var msgs []string
			for _, f := range fs {
				if f.Rule == ruleUntrustedRegistry {
					got = append(got, hit{f.Line, f.Severity})
					msgs = append(msgs, f.Message)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("findings (-want +got):\n%s", diff)
			}
			if tc.msg != "" && !strings.Contains(msgs[0], tc.msg) {
				t.Errorf("message %q lacks %q", msgs[0], tc.msg)
			}
		})
	}
	if _, err := Audit("compose.yaml", []byte("services: {web: {image: nginx}}\n"), Options{TrustedRegistries: []string{"nginx"}}); err == nil {
		t.Error("invalid trusted registry: no error")
	}
}
