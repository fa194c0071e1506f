package lint

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/internal/synth"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// TestRunParallel checks that Run finds the same, in the same order, on
// one goroutine and on several, on generated clusters: checkAll keeps the
// findings in input order whatever order the goroutines ran in.
func TestRunParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	seeds := uint64(4)
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		for _, dump := range []bool{false, true} {
			name := fmt.Sprintf("seed %d dump %v", seed, dump)
			c, err := synth.Generate(synth.Config{Seed: seed, Workloads: 300, Policies: 600, Dump: dump, WideSelectors: seed%2 == 1, ObjectsPerFile: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			set, err := manifest.Parse(manifest.Options{}, c.Files[0].Name, c.Files[0].Data)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			eng, err := netpol.Compile(set)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var runs [][]finding.Finding
			for _, procs := range []int{1, 3, 8} {
				runtime.GOMAXPROCS(procs)
				runs = append(runs, newLinter(set, eng).run())
			}
			if len(runs[0]) == 0 {
				t.Fatalf("%s: no findings: the test tests nothing", name)
			}
			for i := 1; i < len(runs); i++ {
				if !reflect.DeepEqual(runs[0], runs[i]) {
					t.Fatalf("%s: %d findings on one goroutine, %d on several, or in another order", name, len(runs[0]), len(runs[i]))
				}
			}
		}
	}
}
