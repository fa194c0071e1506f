package istio_test

import (
	"encoding/json"
	"fmt"

	"github.com/wardsec/ward/istio"
)

func ExampleAuthorizationPolicy_AllowsNothing() {
	var ap istio.AuthorizationPolicy
	if err := json.Unmarshal([]byte(`{"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
		"metadata": {"name": "allow-nothing", "namespace": "shop"}, "spec": {}}`), &ap); err != nil {
		panic(err)
	}
	fmt.Println(ap.Action(), ap.AllowsNothing(), len(ap.Validate()))
	// Output: ALLOW true 0
}
