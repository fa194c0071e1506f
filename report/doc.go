// Package report renders Ward's results for people and programs: findings
// as text or JSON, reachability as a table, a matrix, Graphviz DOT or JSON,
// explanations and diffs. Every renderer writes deterministic output, so
// golden files can pin it.
package report
