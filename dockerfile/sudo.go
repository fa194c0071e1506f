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
// `%wheel ALL=(ALL:ALL) NOPASSWD:ALL`) and a doas.conf `permit nopass`.
var (
	sudoersNopasswd = regexp.MustCompile(`\bNOPASSWD[ \t]*:`)
	doasNopass      = regexp.MustCompile(`\bpermit[ \t]+(?:(?:keepenv|persist|nolog|setenv[ \t]*\{[^}]*\})[ \t]+)*nopass\b`)
)

// nopasswdGrant returns what passwordless root rule text holds ("a
// NOPASSWD sudoers rule", "a doas nopass rule"), or "".
func nopasswdGrant(text string) string {
	switch {
	case sudoersNopasswd.MatchString(text):
		return "a NOPASSWD sudoers rule"
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
		if g := nopasswdGrant(strings.Join(words, " ")); g != "" {
			return g
		}
	}
	return ""
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
