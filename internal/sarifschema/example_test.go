package sarifschema_test

import (
	"fmt"

	"github.com/wardsec/ward/internal/sarifschema"
)

func ExampleValidate() {
	fmt.Println(sarifschema.Validate([]byte(`{"version": "2.1.0", "runs": []}`)) == nil)
	fmt.Println(sarifschema.Validate([]byte(`{"version": "2.0.0", "runs": []}`)) == nil)
	// Output:
	// true
	// false
}
