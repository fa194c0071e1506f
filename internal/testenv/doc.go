// Package testenv lets a test state what it needs from the machine (root,
// network namespaces, an external command, a kernel feature) and skip
// cleanly when that is missing.
//
// A skip is only acceptable on a developer's machine. When the environment
// variable CI is "true", every Require function fails the test instead of
// skipping it, so a CI run can never go green by silently skipping the tests
// that exercise the kernel: CI must provide what the tests need.
//
// There is one exception, explicit and counted: a kernel feature that
// modprobe cannot add to a kernel built without it (SCTP: this project's
// machines have none). KernelLacks tells a test how many of its checks
// cannot run, after trying modprobe, and records them in the test's log
// and in the file named by $WARD_NOT_RUN_FILE, which .ci/run sums up at
// the end of its output; it never fails. It refuses every feature that is
// not on its allow-list.
package testenv
