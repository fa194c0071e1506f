package dockerfile

import (
	"mvdan.cc/sh/v3/syntax"

	"github.com/wardsec/ward/internal/cmdsecret"
)

// maxShellNesting bounds how many sh -c scripts inside one another
// walkCommands follows.
const maxShellNesting = 8

// walkCommands parses a shell script with mvdan.cc/sh, as the shell
// splits it, and calls fn with the words of each of its simple commands
// ("" for a word that is not literal), and of the commands of the script
// of each `sh -c SCRIPT` among them (bash, dash ..., run directly or
// through sudo, env, exec ...). A first word that is a variable the script
// set to a literal value before (SUDO=sudo; $SUDO id) is that value. It
// reports false when the script does not parse, and walks nothing then.
func walkCommands(script string, fn func(words []string)) bool {
	return walkScript(script, 0, fn)
}

// walkArgv calls fn with argv, an exec-form command, and walks the
// script it runs if it is sh -c SCRIPT.
func walkArgv(argv []string, fn func(words []string)) {
	walkWords(argv, 0, fn)
}

func walkScript(script string, depth int, fn func(words []string)) bool {
	f, err := cmdsecret.Parse(script)
	if err != nil {
		return false
	}
	vars := map[string]string{}
	set := func(as []*syntax.Assign) {
		for _, a := range as {
			if a.Name != nil && a.Value != nil && !a.Append && a.Index == nil {
				vars[a.Name.Value] = cmdsecret.Literal(a.Value)
			}
		}
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.DeclClause:
			set(n.Args)
		case *syntax.CallExpr:
			if len(n.Args) == 0 {
				set(n.Assigns)
				return true
			}
			words := make([]string, 0, len(n.Args))
			for _, w := range n.Args {
				words = append(words, cmdsecret.Literal(w)) // "" for a non-literal word
			}
			if name, ok := plainParam(n.Args[0]); ok {
				words[0] = vars[name]
			}
			walkWords(words, depth, fn)
		}
		return true
	})
	return true
}

// walkWords calls fn with words and walks the script they run if they
// are sh -c SCRIPT.
func walkWords(words []string, depth int, fn func(words []string)) {
	fn(words)
	if depth >= maxShellNesting {
		return
	}
	if script, ok := cmdsecret.ShellScript(commandWords(words)); ok && script != "" {
		walkScript(script, depth+1, fn)
	}
}

// plainParam reports whether w is only a variable ($NAME, ${NAME},
// "$NAME"), and its name.
func plainParam(w *syntax.Word) (string, bool) {
	parts := w.Parts
	if len(parts) == 1 {
		if dq, ok := parts[0].(*syntax.DblQuoted); ok {
			parts = dq.Parts
		}
	}
	if len(parts) != 1 {
		return "", false
	}
	p, ok := parts[0].(*syntax.ParamExp)
	if !ok || p.Param == nil || p.Exp != nil || p.Repl != nil || p.Index != nil || p.Slice != nil || p.Length || p.Excl || p.Names != 0 {
		return "", false
	}
	return p.Param.Value, true
}
