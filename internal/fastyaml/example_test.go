package fastyaml_test

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/internal/fastyaml"
)

// parse is how a caller uses the package: the fast path, and yaml.v3
// for whatever it refuses.
func parse(data []byte) (*yaml.Node, error) {
	if doc, err := fastyaml.Parse(data); err == nil {
		return doc, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

func Example() {
	data := []byte(`apiVersion: v1
kind: Service
metadata:
  name: web # trailing comments are dropped
  labels: {app.kubernetes.io/name: web}
spec:
  ports:
  - port: 80
    targetPort: "8080"
`)
	doc, err := fastyaml.Parse(data)
	if err != nil {
		panic(err)
	}
	spec := doc.Content[0].Content[7]
	port := spec.Content[1].Content[0]
	for i := 0; i < len(port.Content); i += 2 {
		k, v := port.Content[i], port.Content[i+1]
		fmt.Printf("%s: %s %s at line %d, column %d\n", k.Value, v.Tag, v.Value, v.Line, v.Column)
	}

	// Anchors are outside the subset: the caller falls back to yaml.v3.
	_, err = fastyaml.Parse([]byte("a: &x 1\nb: *x\n"))
	fmt.Println(err)
	doc, _ = parse([]byte("a: &x 1\nb: *x\n"))
	fmt.Println(doc.Content[0].Content[3].Alias.Value)
	// Output:
	// port: !!int 80 at line 8, column 11
	// targetPort: !!str 8080 at line 9, column 17
	// fastyaml: unsupported construct
	// 1
}
