package dockerfile

import (
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// runUsesSudo reports whether a RUN runs sudo: as a command of its
// heredoc bodies or its shell-form command line, as its exec-form
// command, or inside a sh -c script of one, by name or path
// (/usr/bin/sudo), through env, exec, command ..., or through a variable
// the script sets to it (S=sudo; $S id). The text match of sudoRun is
// kept for scripts that do not parse.
// cmds are the RUN's commands (runCommands).
func runUsesSudo(c *instructions.RunCommand, cmds [][]string) bool {
	return sudoRun.MatchString(runText(c)) || slices.ContainsFunc(cmds, usesSudo)
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
	doasNopass      = regexp.MustCompile(`\bpermit[ \t]+(?:(?:keepenv|persist|nolog|setenv[ \t]*\{[^}]*\})[ \t]+)*nopass\b`)
)

// nopasswdGrant returns what passwordless root rule text holds ("a
// NOPASSWD sudoers rule", "a doas nopass rule"), or "".
func nopasswdGrant(text string) string {
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
// scripts included.
// cmds are the RUN's commands (runCommands).
func runNopasswd(c *instructions.RunCommand, cmds [][]string) string {
	if g := nopasswdGrant(runText(c)); g != "" {
		return g
	}
	for _, words := range cmds {
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
