package kernel_test

import (
	"fmt"

	"github.com/wardsec/ward/watch/kernel"
)

// A drop logged by ward fw names the chain that dropped it.
func ExampleRuleOfPrefix() {
	fmt.Println(kernel.RuleOfPrefix("ward-drop ingress c3 "))
	fmt.Println(kernel.RuleOfPrefix("ward-spoof "))
	// Output:
	// ingress c3
	// spoof
}
