package apicheck_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/synth/apicheck"
)

func ExampleDecode() {
	objs, err := apicheck.Decode("policy.yaml", []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: web}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 90, endPort: 80}]
`))
	if err != nil {
		fmt.Println("decode:", err)
		return
	}
	for _, o := range objs {
		fmt.Println(apicheck.Check(o.Obj) != nil)
	}
	// Output:
	// true
}
