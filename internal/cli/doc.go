// Package cli implements the ward command line: flags, output selection
// and exit codes. Run is the whole program, so tests drive it in-process.
//
// Exit codes: 0 clean, 1 findings or failed assertions at or above
// --fail-on, 2 usage or input error.
package cli
