// Package testenv lets a test state what it needs from the machine (root,
// network namespaces, an external command) and skip cleanly when that is
// missing.
//
// A skip is only acceptable on a developer's machine. When the environment
// variable CI is "true", every Require function fails the test instead of
// skipping it, so a CI run can never go green by silently skipping the tests
// that exercise the kernel: CI must provide what the tests need.
package testenv
