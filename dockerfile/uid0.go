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

// passwdUID0 matches an /etc/passwd line, or the start of one, whose UID
// is 0: "toor:x:0:", as echo, printf, a here-document or a sed
// replacement writes it.
var passwdUID0 = regexp.MustCompile(`(?:^|[\s"'>/|;])([A-Za-z_][A-Za-z0-9_.-]*\$?):[^:\s"'/]*:0+:`)

// userValueOptions are the options of useradd, usermod and adduser
// (shadow's, busybox's and Debian's) that take the next word as their
// value.
var userValueOptions = []string{
	"-b", "-c", "-d", "-e", "-f", "-g", "-G", "-h", "-k", "-K", "-p", "-P", "-R", "-s", "-u", "-Z", "-l",
	"--base-dir", "--comment", "--home-dir", "--home", "--expiredate", "--inactive", "--gid", "--groups", "--skel",
	"--key", "--password", "--prefix", "--root", "--shell", "--uid", "--selinux-user", "--login", "--ingroup",
	"--gecos", "--firstuid", "--lastuid", "--conf", "--add-subids-for-system",
}

// runUID0Users returns the user names that a RUN gives UID 0: created or
// changed with useradd, adduser or usermod -u 0 (--uid 0), or written into
// /etc/passwd with UID 0. The script is read as runSetuid reads it;
// words that are not literal are not judged.
func runUID0Users(c *instructions.RunCommand, ps *shellParses) []string {
	var scripts []string
	switch {
	case len(c.Files) > 0:
		for _, f := range c.Files {
			scripts = append(scripts, f.Data)
		}
	case !c.PrependShell:
		if name, ok := uid0Command(c.CmdLine); ok {
			return []string{name}
		}
		return nil
	default:
		scripts = append(scripts, strings.Join(c.CmdLine, " "))
	}
	var out []string
	for _, script := range scripts {
		if strings.Contains(script, "/etc/passwd") {
			for _, m := range passwdUID0.FindAllStringSubmatch(script, -1) {
				out = append(out, m[1])
			}
		}
		f, err := ps.parse(script)
		if err != nil {
			continue
		}
		syntax.Walk(f, func(n syntax.Node) bool {
			call, ok := n.(*syntax.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			words := make([]string, 0, len(call.Args))
			for _, w := range call.Args {
				words = append(words, cmdsecret.Literal(w)) // "" for a non-literal word
			}
			if name, ok := uid0Command(words); ok {
				out = append(out, name)
			}
			return true
		})
	}
	return out
}

// uid0Command reports whether words are a useradd, adduser or usermod
// command that gives a user UID 0, and that user's name: the last operand
// of useradd and usermod, the first of adduser (adduser USER [GROUP]).
func uid0Command(words []string) (string, bool) {
	for len(words) > 0 && slices.Contains([]string{"sudo", "env", "exec", "busybox"}, words[0]) {
		words = words[1:]
	}
	if len(words) < 2 {
		return "", false
	}
	cmd := words[0][strings.LastIndex(words[0], "/")+1:]
	if cmd != "useradd" && cmd != "adduser" && cmd != "usermod" {
		return "", false
	}
	zero := func(v string) bool {
		n, err := strconv.Atoi(v)
		return err == nil && n == 0
	}
	uid0 := false
	var operands []string
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-u" || w == "--uid":
			if i+1 < len(words) {
				uid0 = uid0 || zero(words[i+1])
				i++
			}
		case strings.HasPrefix(w, "--uid="):
			uid0 = uid0 || zero(strings.TrimPrefix(w, "--uid="))
		case strings.HasPrefix(w, "-u") && !strings.HasPrefix(w, "--"):
			uid0 = uid0 || zero(strings.TrimPrefix(w, "-u"))
		case slices.Contains(userValueOptions, w):
			i++
		case strings.HasPrefix(w, "-"):
		default:
			operands = append(operands, w)
		}
	}
	if !uid0 || len(operands) == 0 {
		return "", false
	}
	name := operands[len(operands)-1]
	if cmd == "adduser" {
		name = operands[0]
	}
	return name, name != ""
}
