package testenv

import "testing"

// AddKernelFeature puts a made-up kernel feature into the table until t
// ends, on KernelLacks's allow-list if mayLack: the kernel has it when
// state is nil.
func AddKernelFeature(t testing.TB, name string, mayLack bool, state error) {
	kernelFeatures[name] = &kernelFeature{module: name, mayLack: mayLack, state: func() error { return state }}
	t.Cleanup(func() { delete(kernelFeatures, name) })
}
