package dockerfile

import (
	"mvdan.cc/sh/v3/syntax"
)

// cmdSite is where a script runs a command: its call and the parsed
// script that holds it.
type cmdSite struct {
	call *syntax.CallExpr
	file *siteFile
}

// siteFile is a parsed script with the parent of each of its nodes,
// found on first use.
type siteFile struct {
	f       *syntax.File
	parents map[syntax.Node]syntax.Node
}

func (sf *siteFile) parent(n syntax.Node) syntax.Node {
	if sf.parents == nil {
		sf.parents = map[syntax.Node]syntax.Node{}
		var stack []syntax.Node
		syntax.Walk(sf.f, func(n syntax.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			if len(stack) > 0 {
				sf.parents[n] = stack[len(stack)-1]
			}
			stack = append(stack, n)
			return true
		})
	}
	return sf.parents[n]
}

// runsAfter reports whether the command at l surely runs once the one
// at e has run and succeeded, so that what l does to a file overrides
// what e did. The rule, from l up to the statement list that holds e:
//   - l is a statement of a list (the script, { }, ( ), or the same
//     branch or loop body as e) that a statement holding e precedes,
//     with no exit, return, exec, break or continue that ends the
//     shell or the loop between them (ends);
//   - or l is the right side of an && whose left side is e, or an &&
//     list that e ends (chmod 0777 d && chmod o+t d): it runs when e
//     succeeded;
//   - l may be the left side of && or ||, or in a pipeline, which run
//     whenever their statement does, and in { } or ( ) at such a place.
//
// Anything else is uncertain and is not counted: l in an if, case,
// loop or function body e is not in (if false; then chmod 0755 d; fi),
// the right side of || or of an && after another command (false &&
// chmod o-w d), a background statement, a command of another script
// (sh -c) or of find -exec.
func runsAfter(e, l *cmdSite) bool {
	if e == nil || l == nil || e.file != l.file {
		return false
	}
	sf := e.file
	holds := map[syntax.Node]bool{} // e and the nodes that hold it
	for n := syntax.Node(e.call); n != nil; n = sf.parent(n) {
		holds[n] = true
	}
	n := syntax.Node(l.call)
	for {
		p := sf.parent(n)
		switch p := p.(type) {
		case *syntax.Stmt:
			if p.Background || p.Cmd != n {
				return false
			}
		case *syntax.BinaryCmd:
			if n == p.Y {
				switch p.Op {
				case syntax.Pipe, syntax.PipeAll:
				case syntax.AndStmt:
					return holds[p.X] && andChainEndsWith(p.X, e.call)
				default:
					return false
				}
			}
		case *syntax.File:
			return listRunsAfter(p.Stmts, n, e, holds)
		case *syntax.Block, *syntax.Subshell:
			var stmts []*syntax.Stmt
			if b, ok := p.(*syntax.Block); ok {
				stmts = b.Stmts
			} else {
				stmts = p.(*syntax.Subshell).Stmts
			}
			if listRunsAfter(stmts, n, e, holds) {
				return true
			}
			if i := stmtIndex(stmts, n); i < 0 || ends(stmts[:i], nil) {
				return false
			}
		case *syntax.IfClause:
			for _, stmts := range [][]*syntax.Stmt{p.Cond, p.Then} {
				if stmtIndex(stmts, n) >= 0 {
					return listRunsAfter(stmts, n, e, holds)
				}
			}
			return false
		case *syntax.WhileClause:
			for _, stmts := range [][]*syntax.Stmt{p.Cond, p.Do} {
				if stmtIndex(stmts, n) >= 0 {
					return listRunsAfter(stmts, n, e, holds)
				}
			}
			return false
		case *syntax.ForClause:
			return listRunsAfter(p.Do, n, e, holds)
		case *syntax.CaseItem:
			return listRunsAfter(p.Stmts, n, e, holds)
		default:
			return false // a function body, time, coproc ...
		}
		n = p
	}
}

// listRunsAfter reports whether the statement n of stmts follows one
// that holds e, with nothing that ends the shell after e before n.
func listRunsAfter(stmts []*syntax.Stmt, n syntax.Node, e *cmdSite, holds map[syntax.Node]bool) bool {
	i := stmtIndex(stmts, n)
	for k := i - 1; k >= 0; k-- {
		if holds[stmts[k]] {
			return !ends(stmts[k+1:i], nil) && !ends(stmts[k:k+1], e.call) && !deferred(e, stmts[k])
		}
	}
	return false
}

// deferred reports whether e, in the statement top, may run after top
// ends: in a function (f() { chmod 0777 d; }; chmod o+t d; f) or a
// background statement.
func deferred(e *cmdSite, top *syntax.Stmt) bool {
	for n := syntax.Node(e.call); n != nil; n = e.file.parent(n) {
		switch n := n.(type) {
		case *syntax.FuncDecl:
			return true
		case *syntax.Stmt:
			if n.Background {
				return true
			}
		}
		if n == top {
			return false
		}
	}
	return false
}

func stmtIndex(stmts []*syntax.Stmt, n syntax.Node) int {
	for i, s := range stmts {
		if s == n {
			return i
		}
	}
	return -1
}

// ends reports whether stmts hold an exit, return or exec of a command,
// which ends the shell (or function), or a break or continue of the
// loop whose body holds them (not of a loop inside stmts; break 2 always
// counts), anywhere, after the command from when it is not nil. An
// exit on the right of an || whose left side succeeds when from does
// (chmod 0777 d || exit 1) does not run after from succeeded: it is
// not counted.
func ends(stmts []*syntax.Stmt, from *syntax.CallExpr) bool {
	found := false
	var walk func(n syntax.Node, loops int)
	walk = func(n syntax.Node, loops int) {
		syntax.Walk(n, func(m syntax.Node) bool {
			if found {
				return false
			}
			switch m := m.(type) {
			case *syntax.BinaryCmd:
				if from != nil && m.Op == syntax.OrStmt && succeedsWith(m.X, from) {
					walk(m.X, loops)
					return false
				}
			case *syntax.ForClause, *syntax.WhileClause:
				if m != n {
					walk(m, loops+1)
					return false
				}
			case *syntax.CallExpr:
				if len(m.Args) == 0 || from != nil && m.Pos().Offset() <= from.Pos().Offset() {
					return true
				}
				switch m.Args[0].Lit() {
				case "exit", "return":
					found = true
				case "exec":
					found = len(m.Args) > 1
				case "break", "continue":
					found = loops == 0 || len(m.Args) > 1
				}
			}
			return !found
		})
	}
	for _, s := range stmts {
		walk(s, 0)
	}
	return found
}

// succeedsWith reports whether the statement s surely succeeds when e,
// a command of it, ran and succeeded: s is e, or an && or || list
// whose last command is e.
func succeedsWith(s *syntax.Stmt, e *syntax.CallExpr) bool {
	for !s.Negated && !s.Background {
		switch c := s.Cmd.(type) {
		case *syntax.CallExpr:
			return c == e
		case *syntax.BinaryCmd:
			if c.Op != syntax.AndStmt && c.Op != syntax.OrStmt {
				return false
			}
			s = c.Y
		default:
			return false
		}
	}
	return false
}

// andChainEndsWith reports whether s is e, or an && list whose last
// command is e (mkdir d && chmod 0777 d): when it succeeded, e did. A
// command after e (chmod 0777 d && chmod 0755 /x && chmod o+t d) may
// fail and stop the list before the next one runs.
func andChainEndsWith(s *syntax.Stmt, e *syntax.CallExpr) bool {
	if s.Background || s.Negated {
		return false
	}
	switch c := s.Cmd.(type) {
	case *syntax.CallExpr:
		return c == e
	case *syntax.BinaryCmd:
		y, ok := c.Y.Cmd.(*syntax.CallExpr)
		return c.Op == syntax.AndStmt && ok && y == e && !c.Y.Background && !c.Y.Negated
	}
	return false
}
