package peers_test

import (
	"fmt"

	"github.com/wardsec/ward/peers"
)

func Example() {
	for _, id := range []string{"KSV014", "AVD-KSV-0006", "kube-linter:run-as-non-root", "DL3066"} {
		c, _ := peers.Lookup(id)
		fmt.Println(c.ID, c.Relation, c.Rules, c.Why != "")
	}
	fmt.Println(peers.Suggest("run-as-non-root"))
	// Output:
	// KSV-0014 equivalent [pod/writable-root-fs] false
	// KSV-0006 broader [pss/hostPathVolumes pss/restrictedVolumes] true
	// kube-linter:run-as-non-root equivalent [pss/runAsNonRoot pss/runAsUser] false
	// DL3066 left [] true
	// [kube-linter:run-as-non-root]
}
