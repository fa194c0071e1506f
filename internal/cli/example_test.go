package cli_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/wardsec/ward/internal/cli"
)

func ExampleRun() {
	manifest := `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`
	code := cli.Run(context.Background(), []string{"explain", "-", "--from", "shop/web", "--to", "8.8.8.8", "--port", "53/UDP"},
		strings.NewReader(manifest), os.Stdout, os.Stderr)
	fmt.Println("exit", code)
	// Output:
	// DENIED: shop/Pod/web -> 8.8.8.8 on 53/UDP
	// allowed between them: none
	//   egress of shop/Pod/web blocks (isolated by 1 policy)
	//     shop/deny-all (-:7): no egress rules
	//   ingress of 8.8.8.8 allows: external address: no policy applies
	// exit 0
}
