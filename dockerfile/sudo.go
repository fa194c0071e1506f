package dockerfile

import (
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"mvdan.cc/sh/v3/syntax"

	"github.com/wardsec/ward/internal/cmdsecret"
)

// runUsesSudo reports whether a RUN runs sudo: as a command of its
// heredoc bodies or its shell-form command line, as its exec-form
// command, or inside a sh -c script of one, by name or path
// (/usr/bin/sudo), through env, exec, command ..., or through a variable
// the script sets to it (S=sudo; $S id). The text match of sudoRun is
// kept for scripts that do not parse.
// cmds are the RUN's commands (runCommands).
func runUsesSudo(c *instructions.RunCommand, cmds [][]string) bool {
	if text := runText(c); strings.Contains(text, "sudo") && sudoRun.MatchString(text) {
		return true
	}
	return slices.ContainsFunc(cmds, usesSudo)
}

// usesSudo reports whether words run sudo, directly or through the
// commands commandWords removes (env sudo, exec sudo, nice sudo).
func usesSudo(words []string) bool {
	for len(words) > 0 {
		if isCommand(words[0], "sudo") {
			return true
		}
		var ok bool
		if words, ok = unwrap(words); !ok {
			return false
		}
	}
	return false
}

// runScripts returns the shell scripts of a RUN: its heredoc bodies when
// it has any, else its shell-form command line; for an exec-form RUN,
// none and its arguments.
func runScripts(c *instructions.RunCommand) ([]string, []string) {
	switch {
	case len(c.Files) > 0:
		scripts := make([]string, 0, len(c.Files))
		for _, f := range c.Files {
			scripts = append(scripts, f.Data)
		}
		return scripts, nil
	case c.PrependShell:
		return []string{strings.Join(c.CmdLine, " ")}, nil
	}
	return nil, c.CmdLine
}

// Rules of sudo and doas that let a user run commands as root without a
// password: a sudoers NOPASSWD tag (`app ALL=(ALL) NOPASSWD: ALL`,
// `%wheel ALL=(ALL:ALL) NOPASSWD:ALL`), a sudoers `Defaults !authenticate`
// (`Defaults:app !authenticate`), which does the same for every rule it
// covers, and a doas.conf `permit nopass`.
var (
	sudoersNopasswd = regexp.MustCompile(`\bNOPASSWD[ \t]*:`)
	sudoersNoAuth   = regexp.MustCompile(`\bDefaults\b[^\n]*![ \t]*authenticate\b`)
	sedNopasswdWord = regexp.MustCompile(`\bNOPASSWD\b`)
	doasNopass      = regexp.MustCompile(`\bpermit[ \t]+(?:(?:keepenv|persist|nolog|setenv[ \t]*\{[^}]*\})[ \t]+)*nopass\b`)
)

// nopasswdGrant returns what passwordless root rule text holds ("a
// NOPASSWD sudoers rule", "a doas nopass rule"), or "".
func nopasswdGrant(text string) string {
	if !strings.Contains(text, "NOPASSWD") && !strings.Contains(text, "authenticate") && !strings.Contains(text, "nopass") {
		return "" // what each pattern needs: most commands have none
	}
	switch {
	case sudoersNopasswd.MatchString(text):
		return "a NOPASSWD sudoers rule"
	case sudoersNoAuth.MatchString(text):
		return "a sudoers Defaults !authenticate"
	case doasNopass.MatchString(text):
		return "a doas nopass rule"
	}
	return ""
}

// runNopasswd returns what passwordless root rule a RUN writes, or "": of
// its text (command line and heredoc bodies), or of its commands' words
// after quote removal (echo app ALL="(ALL)" NOPASS"WD": ALL), sh -c
// scripts included. The patterns a sed command searches for are not
// what it writes (sed -i 's/NOPASSWD: //' /etc/sudoers removes the tag):
// they are left out of both, when literal.
//
// cmds are the RUN's commands (runCommands), ps the parses of its scripts.
func runNopasswd(c *instructions.RunCommand, cmds [][]string, ps *shellParses) string {
	scripts, argv := runScripts(c)
	texts := []string{strings.Join(argv, " ")}
	if len(c.Files) > 0 {
		texts = append(texts, strings.Join(c.CmdLine, "\n"))
	}
	for _, script := range scripts {
		texts = append(texts, withoutSedPatterns(script, 0, ps)...)
	}
	for _, t := range texts {
		if g := nopasswdGrant(t); g != "" {
			return g
		}
	}
	for _, words := range cmds {
		if w := commandWords(words); len(w) > 2 {
			if inner, ok := cmdsecret.ShellScript(w); ok && inner != "" {
				if _, err := ps.parse(inner); err == nil {
					// Its commands are judged on their own (cmds).
					words = slices.Concat(words[:len(words)-len(w)+2], words[len(words)-len(w)+3:])
				}
			}
		}
		if w := commandWords(words); len(w) > 1 && isCommand(w[0], "sed") {
			words = make([]string, len(w))
			for i, x := range w {
				words[i] = sedWithoutPatterns(x)
				if sedNopasswdWord.MatchString(words[i]) {
					// What is left of a sed script is what it writes or
					// the lines it rewrites: /%wheel.*NOPASSWD/s/^# //
					// uncomments the tag without its colon.
					return "a NOPASSWD sudoers rule"
				}
			}
			if sedUncommentsSudoers(w) {
				return sedUncommentGrant
			}
		}
		text := strings.Join(words, " ")
		if g := nopasswdGrant(text); g != "" {
			return g
		}
		if strings.Contains(text, `\`) {
			// echo -e and printf turn escapes into the characters they
			// stand for: NOPASS\x57D, NOPASS\127D.
			if g := nopasswdGrant(unescape(text)); g != "" {
				return g
			}
		}
	}
	return ""
}

// withoutSedPatterns returns script with the literal arguments of its
// sed commands blanked (the words of runCommands hold them, without their
// patterns), or script unchanged when it does not parse. The script of
// a sh -c among them that parses is blanked too, and its own text, so
// treated, is returned after: sh -c "sed -i '/NOPASSWD:/d' /etc/sudoers"
// removes the tag.
func withoutSedPatterns(script string, depth int, ps *shellParses) []string {
	if !strings.Contains(script, "sed") {
		return []string{script}
	}
	f, err := ps.parse(script)
	if err != nil {
		return []string{script}
	}
	b := []byte(script)
	var nested []string
	blank := func(w *syntax.Word) {
		for k := w.Pos().Offset(); k < w.End().Offset() && int(k) < len(b); k++ {
			b[k] = ' '
		}
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok {
			return true
		}
		words := callLiterals(call)
		cw := commandWords(words)
		if inner, ok := cmdsecret.ShellScript(cw); ok && inner != "" && depth < maxShellNesting {
			if _, err := ps.parse(inner); err == nil {
				blank(call.Args[len(words)-len(cw)+2])
				nested = append(nested, withoutSedPatterns(inner, depth+1, ps)...)
			}
			return true
		}
		if len(cw) < 2 || !isCommand(cw[0], "sed") {
			return true
		}
		for i, w := range call.Args[len(words)-len(cw)+1:] {
			if cw[i+1] == "" {
				continue // not literal: its text stays judged
			}
			blank(w)
		}
		return true
	})
	return append([]string{string(b)}, nested...)
}

// sedWithoutPatterns returns a sed script with the patterns of its s
// commands (s/PATTERN/replacement/) and its /regex/ addresses removed:
// what it matches, not what it writes.
func sedWithoutPatterns(expr string) string {
	var b strings.Builder
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		var end int
		switch {
		case c == '/' && (i == 0 || strings.IndexByte(" \t\n;{}!,", expr[i-1]) >= 0):
			end = sedDelimited(expr, i+1, '/') // an address /regex/
			if end >= 0 && !sedAddressDrops(expr, end+1) {
				// The line it selects is kept and may be rewritten:
				// /%wheel.*NOPASSWD/s/^# // uncomments it.
				b.WriteString(expr[i : end+1])
				i = end
				continue
			}
		case c == 's' && i+1 < len(expr) && (i == 0 || strings.IndexByte(" \t\n;{}!/0123456789$", expr[i-1]) >= 0):
			d := expr[i+1]
			if d == '\\' || d == '\n' || d == ' ' || d >= '0' && d <= '9' || d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z' {
				end = -1
				break
			}
			if e := sedDelimited(expr, i+2, d); e >= 0 && sedDelimited(expr, e+1, d) >= 0 {
				if sedBackref(expr[e+1 : sedDelimited(expr, e+1, d)]) {
					// \1 or & writes what the pattern matched back:
					// s/^#\s*\(%wheel ALL=(ALL) NOPASSWD: ALL\)/\1/.
					end = -1
					break
				}
				b.WriteByte('s')
				b.WriteByte(d)
				i = e // the pattern is dropped, the replacement kept
				continue
			}
			end = -1
		default:
			end = -1
		}
		if end >= 0 {
			i = end
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// sedBackref reports whether a sed replacement writes back text its
// pattern matched: \1 to \9, or an & no backslash escapes.
func sedBackref(repl string) bool {
	for i := 0; i < len(repl); i++ {
		switch repl[i] {
		case '\\':
			if i+1 < len(repl) && repl[i+1] >= '1' && repl[i+1] <= '9' {
				return true
			}
			i++
		case '&':
			return true
		}
	}
	return false
}

// sedAddressDrops reports whether the command of the /regex/ address
// ending at expr[i-1] drops the lines it selects: d deletes them, and an
// s command whose replacement holds a # comments them out
// (/^app.*NOPASSWD:/s/^/# /), and so does one that neither removes a #
// nor writes NOPASSWD (/NOPASSWD/s/NOPASSWD: //). Any other command
// (s/^# // uncommenting the line, a, c, {) keeps the address as what
// the command writes.
func sedAddressDrops(expr string, i int) bool {
	skip := func() {
		for i < len(expr) && strings.IndexByte(" \tIM!", expr[i]) >= 0 {
			i++
		}
	}
	skip()
	if i < len(expr) && expr[i] == ',' { // a range: its second address
		i++
		if i < len(expr) && expr[i] == '/' {
			e := sedDelimited(expr, i+1, '/')
			if e < 0 {
				return false
			}
			i = e + 1
		} else {
			for i < len(expr) && strings.IndexByte("0123456789$+~", expr[i]) >= 0 {
				i++
			}
		}
		skip()
	}
	if i >= len(expr) {
		return false
	}
	switch expr[i] {
	case 'd':
		return true
	case 's':
		if i+1 >= len(expr) {
			return false
		}
		d := expr[i+1]
		e := sedDelimited(expr, i+2, d)
		if e < 0 {
			return false
		}
		r := sedDelimited(expr, e+1, d)
		if r < 0 {
			return false
		}
		// Kept only when it uncomments the line or writes the tag:
		// s/NOPASSWD: // removes it.
		pat, repl := expr[i+2:e], expr[e+1:r]
		return strings.Count(pat, "#") <= strings.Count(repl, "#") && !strings.Contains(repl, "NOPASSWD")
	}
	return false
}

// sedUncommentGrant is what runNopasswd reports of a sed that may
// uncomment a rule of sudoers or doas.conf.
const sedUncommentGrant = "a sudoers or doas line a sed uncomments, which may enable a commented rule (Fedora's `# %wheel ALL=(ALL) NOPASSWD: ALL`)"

// sedUncommentsSudoers reports whether words, a sed command, edit a
// sudoers or doas file (/etc/sudoers, /etc/sudoers.d/*, /etc/doas.conf,
// /etc/doas.d/*) with an s command that removes a
// leading # (s/^# *//, s/^#\(.*\)/\1/): its line may be a commented
// NOPASSWD rule, whatever regex spelling selects it
// (/%wheel.*NOPASS/s/^# //).
func sedUncommentsSudoers(words []string) bool {
	sudoers := false
	for _, w := range words[1:] {
		p := path.Clean(w)
		if p == "/etc/sudoers" || strings.HasPrefix(p, "/etc/sudoers.d/") || p == "/etc/doas.conf" || strings.HasPrefix(p, "/etc/doas.d/") {
			sudoers = true
		}
	}
	if !sudoers {
		return false
	}
	for _, w := range words[1:] {
		for i := 0; i+1 < len(w); i++ {
			if w[i] != 's' || i > 0 && strings.IndexByte(" \t\n;{}!/0123456789$", w[i-1]) < 0 {
				continue
			}
			d := w[i+1]
			if d == '\\' || d == '\n' || d == ' ' || d >= '0' && d <= '9' || d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z' {
				continue
			}
			e := sedDelimited(w, i+2, d)
			if e < 0 {
				continue
			}
			r := sedDelimited(w, e+1, d)
			if r < 0 {
				continue
			}
			pat, repl := w[i+2:e], w[e+1:r]
			if leadingHash.MatchString(pat) && strings.Count(pat, "#") > strings.Count(repl, "#") {
				return true
			}
		}
	}
	return false
}

// leadingHash matches a sed pattern of a # at the start of a line, after
// blanks: ^#, ^ *#, ^\s*#, ^[[:space:]]*#, ^\(#.
var leadingHash = regexp.MustCompile(`^\^(?:[ \t]|\\s|\[\[:space:\]\]|\[[ \\t]+\]|[*+?]|\\[+?]|\\?\()*#`)

// sedDelimited returns the index of the first d in expr from i that no
// backslash escapes, or -1.
func sedDelimited(expr string, i int, d byte) int {
	for ; i < len(expr); i++ {
		switch expr[i] {
		case '\\':
			i++
		case d:
			return i
		}
	}
	return -1
}

// unescape replaces the backslash escapes of echo -e, printf and bash's
// $'...' in s by the characters they stand for: \xHH, \NNN and \0NNN
// (octal), \uHHHH, \UHHHHHHHH and the letters (\n, \t ...). Other
// backslashes are kept.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		c := s[i+1]
		digits := func(from, max int, base int) (int, int) {
			n, k := 0, 0
			for ; k < max && from+k < len(s); k++ {
				d := strings.IndexByte("0123456789abcdef"[:base], lower(s[from+k]))
				if d < 0 {
					break
				}
				n = n*base + d
			}
			return n, k
		}
		switch {
		case c == 'x' || c == 'u' || c == 'U':
			max := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			n, k := digits(i+2, max, 16)
			if k == 0 {
				b.WriteByte('\\')
				continue
			}
			b.WriteRune(rune(n)) // #nosec G115 -- at most 8 hex digits; an invalid rune is written as U+FFFD
			i += 1 + k
		case c >= '0' && c <= '7':
			from := i + 1
			if c == '0' {
				from++ // \0NNN of echo -e
			}
			n, k := digits(from, 3, 8)
			b.WriteByte(byte(n)) // #nosec G115 -- 3 octal digits, truncated to a byte as printf does
			i = from + k - 1
		case strings.IndexByte("abefnrtv\\'\"", c) >= 0:
			b.WriteByte(map[byte]byte{'a': 7, 'b': 8, 'e': 27, 'f': 12, 'n': '\n', 'r': '\r', 't': '\t', 'v': 11, '\\': '\\', '\'': '\'', '"': '"'}[c])
			i++
		default:
			b.WriteByte('\\')
		}
	}
	return b.String()
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// sudoGrant is an instruction of a stage that writes a passwordless root
// rule.
type sudoGrant struct {
	line int
	what string // "RUN writes a NOPASSWD sudoers rule"
}

// copyNopasswd returns the grant a heredoc source of a COPY or ADD
// writes to dest (COPY <<EOF /etc/sudoers.d/app), if any.
func copyNopasswd(instr string, c instructions.SourcesAndDest, line int) []sudoGrant {
	for _, sc := range c.SourceContents {
		if g := nopasswdGrant(sc.Data); g != "" {
			return []sudoGrant{{line: line, what: instr + " of a here-document to " + c.DestPath + " writes " + g}}
		}
	}
	return nil
}
