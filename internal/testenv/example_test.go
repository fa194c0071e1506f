package testenv_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/wardsec/ward/internal/testenv"
)

// printer stands in for the *testing.T a real test passes, printing what
// the test would report.
type printer struct{ testing.TB }

func (printer) Helper() {}

func (printer) Skipf(format string, args ...any) { fmt.Printf("SKIP "+format+"\n", args...) }

func (printer) Fatalf(format string, args ...any) { fmt.Printf("FAIL "+format+"\n", args...) }

// A test that needs a tool the machine lacks is skipped on a developer's
// machine, but fails under CI, which must provide everything the tests need.
// A real test calls testenv.RequireNetns(t) or testenv.RequireCommand(t,
// "nft") first thing, with its own t.
func Example() {
	defer os.Setenv("CI", os.Getenv("CI"))

	os.Setenv("CI", "")
	testenv.RequireCommand(printer{}, "ward-example-missing-tool")

	os.Setenv("CI", "true")
	testenv.RequireCommand(printer{}, "ward-example-missing-tool")
	// Output:
	// SKIP testenv: skipping: needs the "ward-example-missing-tool" command: exec: "ward-example-missing-tool": executable file not found in $PATH
	// FAIL testenv: needs the "ward-example-missing-tool" command: exec: "ward-example-missing-tool": executable file not found in $PATH; CI=true, so this test must run, not skip
}
