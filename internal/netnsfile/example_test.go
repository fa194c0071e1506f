package netnsfile_test

import (
	"fmt"
	"os"

	"github.com/wardsec/ward/internal/netnsfile"
)

// A namespace of one's own, where a test may change nftables.
func Example() {
	f, err := netnsfile.New()
	if err != nil {
		fmt.Println("no namespace (needs root):", err != nil)
		return
	}
	defer func() { _ = f.Close() }()
	own, _ := os.Readlink("/proc/self/ns/net")
	other, _ := os.Readlink(f.Name())
	fmt.Println("a namespace of its own:", own != other || own == "")
}
