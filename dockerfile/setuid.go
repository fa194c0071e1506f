package dockerfile

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"mvdan.cc/sh/v3/syntax"

	"github.com/wardsec/ward/internal/cmdsecret"
)

// setuidSite is an instruction of a stage that gives a file the setuid or
// setgid bit.
type setuidSite struct {
	line int
	what string // "COPY --chmod=4755", "RUN chmod u+s"
}

// symbolicSetuid matches a symbolic mode clause that sets s: u+s, g=rxs,
// +s, a+rwxs.
var symbolicSetuid = regexp.MustCompile(`^[ugoa]*[+=][rwxXst]*s[rwxXst]*$`)

// setuidMode reports whether mode, as chmod and BuildKit's --chmod read
// it, sets the setuid or setgid bit: an octal mode with 4000 or 2000, or
// a symbolic one with a clause that adds s (u+s, g+s). Modes it cannot
// read (variables left unexpanded) are not judged.
func setuidMode(mode string) bool {
	mode = strings.TrimSpace(mode)
	if mode == "" {
		return false
	}
	if n, err := strconv.ParseUint(mode, 8, 32); err == nil {
		return n&0o6000 != 0
	}
	for _, clause := range strings.Split(mode, ",") {
		if symbolicSetuid.MatchString(clause) {
			return true
		}
	}
	return false
}

// chmodOptions are chmod's options that take the next word.
var chmodOptions = []string{"--reference"}

// runSetuid returns the modes that the chmod commands of a RUN set with
// setuid or setgid: of its heredoc bodies when it has any, of its
// exec-form arguments, or of its shell-form command line.
func runSetuid(c *instructions.RunCommand) []string {
	if len(c.Files) > 0 {
		var out []string
		for _, f := range c.Files {
			out = append(out, scriptSetuid(f.Data)...)
		}
		return out
	}
	if !c.PrependShell {
		if m, ok := chmodSetuid(c.CmdLine); ok {
			return []string{m}
		}
		return nil
	}
	return scriptSetuid(strings.Join(c.CmdLine, " "))
}

// scriptSetuid parses a shell script with mvdan.cc/sh, as the shell splits
// it, and returns the setuid modes of its chmod commands. A script that
// does not parse is not judged.
func scriptSetuid(script string) []string {
	f, err := cmdsecret.Parse(script)
	if err != nil {
		return nil
	}
	var out []string
	syntax.Walk(f, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		words := make([]string, 0, len(call.Args))
		for _, w := range call.Args {
			words = append(words, cmdsecret.Literal(w)) // "" for a non-literal word
		}
		if m, ok := chmodSetuid(words); ok {
			out = append(out, m)
		}
		return true
	})
	return out
}

// chmodSetuid reports whether words are a chmod command (run directly or
// through sudo, env or busybox) whose mode sets setuid or setgid, and that
// mode.
func chmodSetuid(words []string) (string, bool) {
	for len(words) > 0 && (words[0] == "sudo" || words[0] == "env" || words[0] == "busybox" || words[0] == "exec") {
		words = words[1:]
	}
	if len(words) < 2 || (words[0] != "chmod" && !strings.HasSuffix(words[0], "/chmod")) {
		return "", false
	}
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			if i+1 < len(words) {
				return words[i+1], setuidMode(words[i+1])
			}
			return "", false
		case strings.HasPrefix(w, "--"):
			if !strings.Contains(w, "=") && slices.Contains(chmodOptions, w) {
				i++
			}
		case strings.HasPrefix(w, "-") && strings.Trim(w, "-Rcfv") == "":
			// -R, -v, -cf ...: options, not a mode such as -s.
		default:
			return w, setuidMode(w)
		}
	}
	return "", false
}
