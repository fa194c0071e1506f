package regfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wardsec/ward/internal/regfile"
)

func ExampleRead() {
	dir, err := os.MkdirTemp("", "regfile")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	policies := filepath.Join(dir, "policies.yaml")
	if err := os.WriteFile(policies, []byte("kind: AuthorizationPolicy\n"), 0o600); err != nil {
		panic(err)
	}
	data, err := regfile.Read(policies, 0)
	fmt.Printf("%q %v\n", data, err)

	// The same name swapped for a link to a device: refused at once,
	// never read until memory runs out.
	if err := os.Remove(policies); err != nil {
		panic(err)
	}
	if err := os.Symlink("/dev/zero", policies); err != nil {
		panic(err)
	}
	_, err = regfile.Read(policies, 0)
	fmt.Println(errors.Is(err, regfile.ErrNotRegular))
	// Output:
	// "kind: AuthorizationPolicy\n" <nil>
	// true
}
