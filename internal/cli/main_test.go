package cli

import (
	"fmt"
	"os"
	"testing"
)

// TestMain keeps the tests' ward watch stores (a followed or live watch
// keeps one by default, under $XDG_STATE_HOME) out of the user's home.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ward-cli-state")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := os.Setenv("XDG_STATE_HOME", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
