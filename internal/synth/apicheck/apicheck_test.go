package apicheck

import (
	"strings"
	"testing"
)

const policyHead = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: ns}
spec:
`

func TestNetworkPolicy(t *testing.T) {
	tests := []struct {
		name, spec string
		valid      bool
	}{
		{"deny all", `  podSelector: {}
  policyTypes: [Ingress, Egress]`, true},
		{"full", `  podSelector: {matchExpressions: [{key: app, operator: In, values: [a, b]}, {key: t, operator: Exists}]}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: x}}, podSelector: {matchLabels: {app: c}}}]
    ports: [{port: http}, {port: 8000, endPort: 8100, protocol: UDP}, {protocol: SCTP}]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 169.254.169.254/32]}}, {ipBlock: {cidr: "::/0", except: ["fc00::/7"]}}]`, true},
		{"port zero", `  podSelector: {}
  ingress: [{ports: [{port: 0}]}]`, false},
		{"port too big", `  podSelector: {}
  ingress: [{ports: [{port: 65536}]}]`, false},
		{"endPort below port", `  podSelector: {}
  ingress: [{ports: [{port: 90, endPort: 80}]}]`, false},
		{"endPort with named port", `  podSelector: {}
  ingress: [{ports: [{port: http, endPort: 80}]}]`, false},
		{"endPort without port", `  podSelector: {}
  ingress: [{ports: [{endPort: 80}]}]`, false},
		{"bad port name", `  podSelector: {}
  ingress: [{ports: [{port: HTTP_8080}]}]`, false},
		{"bad protocol", `  podSelector: {}
  ingress: [{ports: [{port: 80, protocol: ICMP}]}]`, false},
		{"cidr host bits", `  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.1/8}}]}]`, false},
		{"except outside cidr", `  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}}]}]`, false},
		{"except equal to cidr", `  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]`, false},
		{"ipBlock with selector", `  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]`, false},
		{"empty peer", `  podSelector: {}
  egress: [{to: [{}]}]`, false},
		{"In without values", `  podSelector: {matchExpressions: [{key: app, operator: In}]}`, false},
		{"bad operator", `  podSelector: {matchExpressions: [{key: app, operator: Equals, values: [a]}]}`, false},
		{"bad policy type", `  podSelector: {}
  policyTypes: [Both]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Decode("p.yaml", []byte(policyHead+tt.spec+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			err = Check(objs[0].Obj)
			if (err == nil) != tt.valid {
				t.Errorf("Check = %v, want valid = %v", err, tt.valid)
			}
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	_, err := Decode("p.yaml", []byte(policyHead+"  podSelector: {}\n  ingres: []\n"))
	if err == nil || !strings.Contains(err.Error(), "ingres") {
		t.Errorf("Decode with a misspelled field: %v, want an error naming it", err)
	}
	_, err = Decode("x.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"))
	if err == nil {
		t.Error("Decode of an unexpected kind succeeded")
	}
	objs, err := Decode("l.json", []byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]}`))
	if err != nil || len(objs) != 1 || objs[0].Kind != "Namespace" {
		t.Errorf("Decode of a JSON List: %v, %v", objs, err)
	}
}
