// Package finding defines Finding, the value every Ward check reports: a
// rule id, a severity, where it was found and what to do about it.
//
// A finding means "ran and found this"; an error means "could not run".
// Findings sort deterministically so that output is stable across runs.
package finding
