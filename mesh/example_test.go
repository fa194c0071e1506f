package mesh_test

import (
	"fmt"
	"strings"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/mesh"
)

func ExampleAudit() {
	set, err := manifest.Load(manifest.Options{Stdin: strings.NewReader(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: PERMISSIVE}}
`)}, "-")
	if err != nil {
		panic(err)
	}
	for _, f := range mesh.Audit(set, mesh.Options{}) {
		fmt.Println(f.Rule, f.Severity, f.Message)
	}
	// Output:
	// mesh/mtls-weak-mode medium istio-system/PeerAuthentication/default accepts plaintext next to mutual TLS (PERMISSIVE) mesh-wide
}
