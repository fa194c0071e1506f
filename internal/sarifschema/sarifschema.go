// Package sarifschema validates SARIF logs against the official SARIF
// 2.1.0 JSON schema (OASIS, errata 01, as published at
// docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas), embedded
// here, with a JSON Schema library. Tests use it on Ward's output.
package sarifschema

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed sarif-schema-2.1.0.json
var schemaJSON []byte

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("sarif-schema-2.1.0.json")
})

// Validate reports whether data is a SARIF 2.1.0 log the schema accepts.
func Validate(data []byte) error {
	sch, err := compiled()
	if err != nil {
		return fmt.Errorf("sarifschema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("sarifschema: not JSON: %w", err)
	}
	return sch.Validate(inst)
}
