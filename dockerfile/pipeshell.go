package dockerfile

import (
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"mvdan.cc/sh/v3/syntax"

	"github.com/wardsec/ward/internal/cmdsecret"
)

// downloaders are the commands whose output dockerfile/pipe-to-shell
// follows into an interpreter.
var downloaders = []string{"curl", "wget", "fetch", "aria2c", "http", "https", "xh"}

// shells are the POSIX shells and bash.
var shells = []string{"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"}

// interpreters are the shells and the script languages that run a
// script read from standard input.
var interpreters = []string{"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "python", "python2", "python3", "perl", "ruby", "node", "php"}

// runPipesToShell returns the first command of a RUN that runs what it
// downloads without checking it ("curl | sh", "bash <(curl)",
// `sh -c "$(curl)"`, "eval $(wget -O-)"), or "": in its heredoc bodies,
// shell-form command line or exec-form sh -c script, and the sh -c
// scripts inside them.
func runPipesToShell(c *instructions.RunCommand, ps *shellParses) string {
	scripts, argv := runScripts(c)
	if argv != nil {
		if s, ok := cmdsecret.ShellScript(commandWords(argv)); ok {
			scripts = append(scripts, s)
		}
	}
	for _, s := range scripts {
		if w := scriptPipesToShell(s, 0, ps); w != "" {
			return w
		}
	}
	return ""
}

// scriptPipesToShell is runPipesToShell for one shell script.
func scriptPipesToShell(script string, depth int, ps *shellParses) string {
	f, err := ps.parse(script)
	if err != nil {
		return ""
	}
	var found string
	inner := map[*syntax.BinaryCmd]bool{} // pipes inside a pipeline already flattened
	dl := downloads(f)
	syntax.Walk(f, func(n syntax.Node) bool {
		if found != "" {
			return false
		}
		switch n := n.(type) {
		case *syntax.BinaryCmd:
			if n.Op != syntax.Pipe && n.Op != syntax.PipeAll {
				return true
			}
			if inner[n] {
				return true // a part of a pipeline judged whole
			}
			stages := pipeline(n, inner)
			d := ""
			for _, st := range stages {
				if d != "" {
					if name, ok := stmtReadsScript(st); ok {
						found = d + " | " + name
						return false
					}
				}
				if d == "" {
					d = dl[st]
				}
			}
		case *syntax.Stmt:
			// What an interpreter reads as its script from a redirection:
			// bash <<<"$(curl ...)", sh < <(curl ...), a here-document
			// holding $(curl ...), source /dev/stdin <<<"$(curl ...)".
			for _, r := range n.Redirs {
				var d string
				switch {
				case r.Op == syntax.WordHdoc || r.Op == syntax.RdrIn:
					d = dl[r.Word]
				case r.Hdoc != nil && (r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc):
					d = dl[r.Hdoc]
				}
				if d == "" {
					continue
				}
				if name, ok := stmtReadsScript(n); ok {
					found = name + " of " + d + " output"
					return false
				}
			}
		case *syntax.CallExpr:
			words := commandWords(callLiterals(n))
			if len(words) == 0 {
				return true
			}
			if d := dl[n.Args[0]]; d != "" {
				// $(curl ...) or `wget -O- ...` as the command: its
				// output runs.
				found = "a command of " + d + " output"
				return false
			}
			name := words[0][strings.LastIndexByte(words[0], '/')+1:]
			if slices.Contains(interpreters, name) || name == "eval" || name == "source" || name == "." {
				// What the interpreter runs from a substitution:
				// bash <(curl ...), sh -c "$(curl ...)", eval "$(wget -O- ...)".
				for _, arg := range n.Args[1:] {
					if d := dl[arg]; d != "" {
						found = name + " of " + d + " output"
						break
					}
				}
			}
			if found != "" {
				return false
			}
			if s, ok := cmdsecret.ShellScript(words); ok && depth < maxShellNesting {
				found = scriptPipesToShell(s, depth+1, ps)
			}
		}
		return found == ""
	})
	return found
}

// pipeline flattens a pipeline into its commands, in order, and marks
// the pipes inside it in inner.
func pipeline(b *syntax.BinaryCmd, inner map[*syntax.BinaryCmd]bool) []*syntax.Stmt {
	var out []*syntax.Stmt
	for _, s := range []*syntax.Stmt{b.X, b.Y} {
		if p, ok := s.Cmd.(*syntax.BinaryCmd); ok && (p.Op == syntax.Pipe || p.Op == syntax.PipeAll) {
			inner[p] = true
			out = append(out, pipeline(p, inner)...)
		} else {
			out = append(out, s)
		}
	}
	return out
}

// downloads maps each node of f that runs a downloading command, in
// itself or a subshell, block or substitution inside it, to that command
// ("curl"), in one walk: a node's answer is known when Walk leaves it.
func downloads(f *syntax.File) map[syntax.Node]string {
	out := map[syntax.Node]string{}
	var stack []syntax.Node
	syntax.Walk(f, func(n syntax.Node) bool {
		if n != nil {
			stack = append(stack, n)
			if call, ok := n.(*syntax.CallExpr); ok {
				if words := commandWords(callLiterals(call)); len(words) > 0 {
					if name := words[0][strings.LastIndexByte(words[0], '/')+1:]; slices.Contains(downloaders, name) {
						out[n] = name
					}
				}
			}
			return true
		}
		done := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if d := out[done]; d != "" && len(stack) > 0 {
			if parent := stack[len(stack)-1]; out[parent] == "" {
				out[parent] = d
			}
		}
		return true
	})
	return out
}

// stmtReadsScript reports whether a statement runs an interpreter on the
// script it reads from standard input (readsScript), or sources it
// (source /dev/stdin), itself or as a command of the subshell or block it
// is ({ sh; }, (bash)), and that interpreter.
func stmtReadsScript(st *syntax.Stmt) (string, bool) {
	var stmts []*syntax.Stmt
	switch c := st.Cmd.(type) {
	case *syntax.CallExpr:
		words := callLiterals(c)
		if name, ok := readsScript(words); ok {
			return name, true
		}
		if words = commandWords(words); len(words) >= 2 && (words[0] == "source" || words[0] == ".") &&
			slices.Contains([]string{"/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"}, words[1]) {
			return words[0], true
		}
		return "", false
	case *syntax.Subshell:
		stmts = c.Stmts
	case *syntax.Block:
		stmts = c.Stmts
	}
	for _, s := range stmts {
		if name, ok := stmtReadsScript(s); ok {
			return name, true
		}
	}
	return "", false
}

// readsScript reports whether words run an interpreter on a script it
// reads from standard input (sh, bash -s, python3 -), and that
// interpreter. An interpreter given its script with -c (-e for perl, ruby
// and node) or a file reads standard input as data.
func readsScript(words []string) (string, bool) {
	for w := words; len(w) > 0; {
		if isCommand(w[0], "xargs") {
			// The input is arguments, not a script, unless they are the
			// script of a shell's -c (xargs -0 bash -c).
			if c := commandWords(w); len(c) == 2 && slices.Contains(shells, c[0][strings.LastIndexByte(c[0], '/')+1:]) && cmdsecret.ShellScriptOpt(c[1]) {
				return c[0][strings.LastIndexByte(c[0], '/')+1:], true
			}
			return "", false
		}
		var ok bool
		if w, ok = unwrap(w); !ok {
			break
		}
	}
	words = commandWords(words)
	if len(words) == 0 {
		return "", false
	}
	name := words[0][strings.LastIndexByte(words[0], '/')+1:]
	if !slices.Contains(interpreters, name) {
		return "", false
	}
	shell := cmdsecret.ShellScriptOpt
	stdin := false // sh -s: the script is standard input, the operands its arguments
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-":
			return name, true
		case w == "--":
			return name, stdin || i+1 == len(words)
		case w == "--command" || w == "--eval" || w == "--print":
			return "", false
		case (w == "-o" || w == "+o" || w == "-O" || w == "+O") && slices.Contains(shells, name):
			i++ // bash -o pipefail: the option's value, not a script file
		case strings.HasPrefix(w, "+") && slices.Contains(shells, name):
		case strings.HasPrefix(w, "--"):
		case strings.HasPrefix(w, "-"):
			if shell(w) || w == "-e" && !slices.Contains(shells, name) || w == "-p" && name == "node" {
				return "", false // the script is an argument
			}
			stdin = stdin || slices.Contains(shells, name) && strings.Contains(w, "s")
		default:
			return name, stdin // a script file, unless -s
		}
	}
	return name, true
}

// callLiterals are the literal words of a command, "" for the others.
func callLiterals(call *syntax.CallExpr) []string {
	words := make([]string, 0, len(call.Args))
	for _, w := range call.Args {
		words = append(words, cmdsecret.Literal(w))
	}
	return words
}
