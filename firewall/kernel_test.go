package firewall

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wardsec/ward/internal/testenv"
)

// TestKernelAcceptsGoldens hands every golden ruleset to the kernel's
// nftables in check mode (`nft -c -f`), inside a network namespace of its
// own (unshare --net) so that the host's rules are never touched: what
// Compile writes is what nft and the kernel accept.
func TestKernelAcceptsGoldens(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "nft")
	testenv.RequireCommand(t, "unshare")
	files, err := filepath.Glob("testdata/*.nft")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden rulesets: %v", err)
	}
	for _, f := range files {
		out, err := exec.Command("unshare", "--net", "nft", "-c", "-f", f).CombinedOutput() // #nosec G204 -- fixed programs and the test's own files
		if err != nil {
			t.Errorf("nft -c -f %s: %v\n%s", f, err, out)
		}
	}
}
