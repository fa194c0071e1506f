// Package report renders Ward's results for people and programs: findings
// as text or JSON, reachability as a table, a matrix, Graphviz DOT or JSON,
// explanations and diffs. Every renderer writes deterministic output, so
// golden files can pin it. Text renderers of findings, explanations,
// diffs and reachability notes escape the control and bidirectional
// characters of what they print from the input (Printable), so that a
// name or a file's path cannot rewrite the reader's screen.
package report
