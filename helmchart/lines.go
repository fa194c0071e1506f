package helmchart

import "strings"

// maxCells bounds the table of lineMap's longest common subsequence; past
// it the alignment is greedy.
const maxCells = 1 << 22

// lineMap aligns the lines of a template's output with the lines of the
// template's source and returns, for each output line (index 0 for line
// 1), the source line it is reported at: the source line that holds it
// literally when the alignment (a longest common subsequence of lines,
// trailing white space ignored) pairs them, else the nearest paired line
// above it (the template text its generated lines follow), else line 1.
// Blank lines and lines with a template action ({{) are never paired.
func lineMap(src, out []byte) []int {
	norm := func(b []byte) []string {
		ls := strings.Split(string(b), "\n")
		for i, l := range ls {
			ls[i] = strings.TrimRight(l, " \t\r")
		}
		return ls
	}
	t, o := norm(src), norm(out)
	pairable := func(l string) bool { return strings.TrimSpace(l) != "" && !strings.Contains(l, "{{") }
	match := make([]int, len(o)) // source index + 1, 0 when unpaired
	n, m := len(o), len(t)
	if n*m <= maxCells {
		// lcs[i*(m+1)+j] is the length of the LCS of o[i:] and t[j:].
		w := m + 1
		lcs := make([]int32, (n+1)*w)
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				switch {
				case o[i] == t[j] && pairable(t[j]):
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
					lcs[i*w+j] = lcs[(i+1)*w+j]
				default:
					lcs[i*w+j] = lcs[i*w+j+1]
				}
			}
		}
		// Of the alignments as long, take the one that pairs output lines
		// with the latest source lines: after `if A` and `else B`
		// branches that share lines, the output of B pairs with B.
		for i, j := 0, 0; i < n && j < m; {
			switch {
			case lcs[i*w+j+1] == lcs[i*w+j]:
				j++
			case o[i] == t[j] && pairable(t[j]):
				match[i] = j + 1
				i, j = i+1, j+1
			default:
				i++
			}
		}
	} else {
		// Greedy: pair each output line with the next equal source line
		// not far ahead.
		const window = 64
		cur := 0
		for i := range o {
			if !pairable(o[i]) {
				continue
			}
			for j := cur; j < m && j < cur+window; j++ {
				if t[j] == o[i] {
					match[i], cur = j+1, j+1
					break
				}
			}
		}
	}
	last := 1
	for i, j := range match {
		if j > 0 {
			last = j
		}
		match[i] = last
	}
	return match
}

// Line returns the line of the template's source that line n of Data is
// reported at (see Template.Data and lineMap); n itself when the source is
// unknown.
func (t Template) Line(n int) int {
	if n >= 1 && n <= len(t.lines) {
		return t.lines[n-1]
	}
	if len(t.lines) > 0 && n > len(t.lines) {
		return t.lines[len(t.lines)-1]
	}
	return n
}
