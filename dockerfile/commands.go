package dockerfile

import (
	"errors"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"mvdan.cc/sh/v3/syntax"

	"github.com/wardsec/ward/internal/cmdsecret"
)

// maxShellNesting bounds how many sh -c scripts inside one another
// walkCommands follows.
const maxShellNesting = 8

// walkRun calls fn with the words of each command a RUN runs: those of
// its heredoc bodies or shell-form command line, parsed with mvdan.cc/sh
// as the shell splits them, or its exec-form arguments; and those of the
// script of each `sh -c SCRIPT` among them (bash, dash ..., run directly
// or through sudo, env, exec ...). A word is its text after quote
// removal, with the variables the shell would expand replaced by their
// values when known: set to a literal value earlier in the script
// (C=chmod; $C 4755 f), or in env, the ENV and ARG values of the stage,
// which BuildKit gives the RUN as its environment (ARG MODE=4755 ...
// chmod $MODE f). Words with other expansions are "". A script that does
// not parse is not walked.
//
// Scripts are parsed through ps, which the rules reading the same RUN
// share.
//
// It reports whether a word was left unknown for the bounds on expanded
// text (maxExpandedWord, maxExpandedTotal): a RUN that spends the budget
// on purpose (A=<60 KB>; echo $A $A ...) hid a later S=sudo; $S id.
func walkRun(c *instructions.RunCommand, env map[string]string, ps *shellParses, fn func(words []string, at *cmdSite)) (exhausted bool) {
	top := &scope{env: env, budget: new(int), exhausted: &exhausted}
	*top.budget = maxExpandedTotal
	scripts, argv := runScripts(c)
	if argv != nil {
		// No shell expands an exec-form RUN's arguments, but one its
		// sh -c script runs does.
		walkWords(argv, nil, 0, top, ps, fn)
	}
	for _, s := range scripts {
		walkScript(s, 0, top, ps, fn)
	}
	return exhausted
}

// runCommands returns the words of each command of a RUN, in the order
// walkRun gives them: the rules that judge commands (run-sudo,
// world-writable, sudo-nopasswd, setuid-file) read them from one walk.
// exhausted is walkRun's.
//
// sites holds, for each command, where a script runs it (nil for the
// commands of an exec-form RUN and of find's -exec actions).
func runCommands(c *instructions.RunCommand, env map[string]string, ps *shellParses) (cmds [][]string, sites []*cmdSite, exhausted bool) {
	exhausted = walkRun(c, env, ps, func(words []string, at *cmdSite) {
		cmds = append(cmds, words)
		sites = append(sites, at)
	})
	return cmds, sites, exhausted
}

// shellParses parses each shell script once for all the rules that read
// a RUN: a RUN of a 5,000-line here-document was parsed six times.
// The parsed files are only read. A nil *shellParses parses every time.
type shellParses struct {
	files map[string]shellParse
}

type shellParse struct {
	f   *syntax.File
	err error
}

// notShell is the shellParses of scripts that are not sh (windowsShell):
// none parses.
var notShell = &shellParses{}

// errNotShell is the parse error of a script run by PowerShell or cmd.
var errNotShell = errors.New("not a sh script")

// windowsShell reports whether a SHELL instruction's command is Windows
// PowerShell or cmd, given the command option of either (powershell
// -Command, pwsh -Command, cmd /S /C): such a shell does not run sh.
// The option is required so that a sh renamed powershell, which would
// reject it, cannot hide a script.
func windowsShell(shell []string) bool {
	if len(shell) < 2 {
		return false
	}
	name := strings.ToLower(shell[0])
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	name = strings.TrimSuffix(name, ".exe")
	for _, opt := range shell[1:] {
		opt = strings.ToLower(opt)
		switch name {
		case "powershell", "pwsh":
			if opt == "-command" || opt == "-encodedcommand" {
				return true
			}
		case "cmd":
			if opt == "/c" || opt == "/s" {
				return true
			}
		}
	}
	return false
}

func newShellParses() *shellParses {
	return &shellParses{files: map[string]shellParse{}}
}

// parse returns cmdsecret.Parse(script), parsing it on its first call.
func (ps *shellParses) parse(script string) (*syntax.File, error) {
	if ps == nil {
		return cmdsecret.Parse(script)
	}
	if ps == notShell {
		return nil, errNotShell
	}
	if p, ok := ps.files[script]; ok {
		return p.f, p.err
	}
	f, err := cmdsecret.Parse(script)
	ps.files[script] = shellParse{f, err}
	return f, err
}

// scope holds the variables a script sets over those of the script (or
// stage environment) that runs it, without copying them: a sh -c inside
// a RUN with many ENV values costs no more than one without.
type scope struct {
	parent *scope
	env    map[string]string // the stage's ENV and ARG values, at the top
	set    map[string]string
	unset  map[string]bool // set to a value not known
	// budget is what variable values the walk of a RUN may still
	// substitute, in bytes, shared by its scopes; exhausted is set when
	// a word was left unknown for it or for maxExpandedWord.
	budget    *int
	exhausted *bool
}

// Bounds of the text expandWord substitutes: a word longer than
// maxExpandedWord, or a value past the maxExpandedTotal bytes a RUN's
// walk may substitute, is not known. RUN A=aaaaaaaaaaaaaaaa;
// B=$A$A$A$A$A$A$A$A; C=$B$B$B$B$B$B$B$B ... doubled its memory use eight
// times a command, to the end of the machine's memory.
const (
	maxExpandedWord  = 64 << 10
	maxExpandedTotal = 1 << 20
)

func (s *scope) lookup(name string) (string, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.set[name]; ok {
			return v, true
		}
		if s.unset[name] {
			return "", false
		}
		if v, ok := s.env[name]; ok {
			return v, true
		}
	}
	return "", false
}

func walkScript(script string, depth int, parent *scope, ps *shellParses, fn func(words []string, at *cmdSite)) {
	f, err := ps.parse(script)
	if err != nil {
		return
	}
	sf := &siteFile{f: f}
	vars := &scope{parent: parent, set: map[string]string{}, unset: map[string]bool{}, budget: parent.budget, exhausted: parent.exhausted}
	set := func(as []*syntax.Assign) {
		for _, a := range as {
			if a.Name == nil || a.Append || a.Index != nil || a.Array != nil {
				continue
			}
			v, ok := "", true
			if a.Value != nil {
				v, ok = expandWord(a.Value, vars)
			}
			if ok {
				vars.set[a.Name.Value] = v
				delete(vars.unset, a.Name.Value)
			} else {
				delete(vars.set, a.Name.Value)
				vars.unset[a.Name.Value] = true
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
				v, _ := expandWord(w, vars) // "" for a word not known
				words = append(words, v)
			}
			walkWords(words, &cmdSite{call: n, file: sf}, depth, vars, ps, fn)
		}
		return true
	})
}

// walkWords calls fn with words and walks the script they run if they
// are sh -c SCRIPT.
//
// The commands find runs (find / -perm ... -exec chmod 777 {} +, -execdir,
// -ok, -okdir) are walked as commands of their own.
func walkWords(words []string, at *cmdSite, depth int, vars *scope, ps *shellParses, fn func(words []string, at *cmdSite)) {
	fn(words, at)
	if depth >= maxShellNesting {
		return
	}
	cw := commandWords(words)
	if script, ok := cmdsecret.ShellScript(cw); ok && script != "" {
		walkScript(script, depth+1, vars, ps, fn)
	}
	if len(cw) > 0 && isCommand(cw[0], "find") {
		for _, c := range findExecs(cw[1:]) {
			walkWords(c, nil, depth+1, vars, ps, fn)
		}
	}
}

// findDir stands for find's {} in the command of an action that only
// directories reach (find /srv -type d -exec chmod 2775 {} +): runSetuid
// counts it as a directory the RUN creates. No shell word holds a NUL.
const findDir = "\x00find -type d"

// findExecs returns the commands of the -exec, -execdir, -ok and -okdir
// actions of find's arguments, each up to its ";" or "+", with {} as
// findDir when the last -type before the action is d.
func findExecs(args []string) [][]string {
	var out [][]string
	typ := ""
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-type", "-xtype":
			if i+1 < len(args) {
				typ = args[i+1]
				i++
			}
			continue
		case "-exec", "-execdir", "-ok", "-okdir":
		default:
			continue
		}
		j := i + 1
		for j < len(args) && args[j] != ";" && args[j] != "+" {
			j++
		}
		if j > i+1 {
			c := slices.Clone(args[i+1 : j])
			for k, w := range c {
				if w == "{}" && typ == "d" {
					c[k] = findDir
				}
			}
			out = append(out, c)
		}
		i = j
	}
	return out
}

// expandWord returns the value of a shell word after quote removal, with
// its plain variables ($NAME, ${NAME}) replaced by their values in vars,
// and false, with "", when any part is not known: a variable vars does
// not hold, a parameter expansion with an operator, a command or
// arithmetic substitution, a glob pattern's expansion aside; a word
// longer than maxExpandedWord, or past the budget of vars.
// Backslash escapes are removed as the shell removes them (s\udo is
// sudo).
func expandWord(w *syntax.Word, vars *scope) (string, bool) {
	var b strings.Builder
	var parts func(ps []syntax.WordPart, dquoted bool) bool
	parts = func(ps []syntax.WordPart, dquoted bool) bool {
		for _, p := range ps {
			switch p := p.(type) {
			case *syntax.Lit:
				b.WriteString(cmdsecret.LitValue(p.Value, dquoted))
			case *syntax.SglQuoted:
				if p.Dollar {
					b.WriteString(unescape(p.Value)) // $'NOPASS\x57D'
					continue
				}
				b.WriteString(p.Value)
			case *syntax.DblQuoted:
				if p.Dollar || !parts(p.Parts, true) {
					return false
				}
			case *syntax.ParamExp:
				name, ok := plainParamExp(p)
				if !ok {
					return false
				}
				v, ok := vars.lookup(name)
				if !ok {
					return false
				}
				if b.Len()+len(v) > maxExpandedWord || vars.budget != nil && len(v) > *vars.budget {
					if vars.exhausted != nil {
						*vars.exhausted = true
					}
					return false
				}
				if vars.budget != nil {
					*vars.budget -= len(v)
				}
				b.WriteString(v)
			default:
				return false
			}
		}
		return true
	}
	if !parts(w.Parts, false) {
		return "", false
	}
	return b.String(), true
}

// plainParamExp reports whether p is a plain variable ($NAME, ${NAME}),
// and its name.
func plainParamExp(p *syntax.ParamExp) (string, bool) {
	if p.Param == nil || p.Exp != nil || p.Repl != nil || p.Index != nil || p.Slice != nil || p.Length || p.Excl || p.Width || p.Names != 0 {
		return "", false
	}
	return p.Param.Value, true
}
