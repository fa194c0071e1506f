package dockerfile

import (
	"path"
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
	bits uint64 // of modeSetuid and modeSetgid, those the mode sets
}

// The bits of a mode that setuidSite reports.
const (
	modeSetuid = 0o4000
	modeSetgid = 0o2000
)

// symbolicSetuid matches a symbolic mode clause that sets s: u+s, g=rxs,
// +s, a+rwxs. Its group is who the clause is for.
var symbolicSetuid = regexp.MustCompile(`^([ugoa]*)[+=][rwxXst]*s[rwxXst]*$`)

// setuidBits returns the setuid and setgid bits (modeSetuid, modeSetgid)
// that mode sets, as chmod and BuildKit's --chmod read it: those of an
// octal mode, or those a symbolic clause adds with s (u+s the setuid bit,
// g+s the setgid bit, +s and a+s both; o+s neither, chmod ignores it).
// Modes it cannot read (variables left unexpanded) set none.
func setuidBits(mode string) uint64 {
	mode = strings.TrimSpace(mode)
	if mode == "" {
		return 0
	}
	if n, err := strconv.ParseUint(mode, 8, 32); err == nil {
		return n & (modeSetuid | modeSetgid)
	}
	var bits uint64
	for _, clause := range strings.Split(mode, ",") {
		m := symbolicSetuid.FindStringSubmatch(clause)
		if m == nil {
			continue
		}
		who := m[1]
		if who == "" || strings.Contains(who, "a") {
			who = "ug"
		}
		if strings.Contains(who, "u") {
			bits |= modeSetuid
		}
		if strings.Contains(who, "g") {
			bits |= modeSetgid
		}
	}
	return bits
}

// chmodOptions are chmod's options that take the next word.
var chmodOptions = []string{"--reference"}

// runChmod is a chmod of a RUN that sets the setuid or setgid bit.
type runChmod struct {
	mode string
	bits uint64
	cmd  string // chmod, install or mkdir
}

// runSetuid returns the chmod commands of a RUN that set setuid or setgid:
// of its heredoc bodies when it has any, of its exec-form arguments, or of
// its shell-form command line. A chmod that sets only the setgid bit, not
// recursively, of paths that the same RUN creates as directories (mkdir,
// install -d) is left out: on a directory, setgid only makes the files
// created in it take its group, the shared-directory pattern.
func runSetuid(c *instructions.RunCommand) []runChmod {
	if len(c.Files) == 0 && !c.PrependShell {
		if ch, ok := chmodSetuid(c.CmdLine); ok {
			return []runChmod{{ch.mode, ch.bits, ch.cmd}}
		}
		if ch, ok := modeOptionSetuid(c.CmdLine); ok && (ch.bits != modeSetgid || len(ch.paths) == 0) {
			return []runChmod{{ch.mode, ch.bits, ch.cmd}}
		}
		return nil
	}
	var scripts []string
	if len(c.Files) > 0 {
		for _, f := range c.Files {
			scripts = append(scripts, f.Data)
		}
	} else {
		scripts = append(scripts, strings.Join(c.CmdLine, " "))
	}
	var chmods []chmodCall
	dirs := map[string]bool{}
	for _, script := range scripts {
		c, d := scriptSetuid(script)
		chmods = append(chmods, c...)
		for _, p := range d {
			dirs[path.Clean(p)] = true
		}
	}
	var out []runChmod
	for _, ch := range chmods {
		if ch.bits == modeSetgid && !ch.recursive && len(ch.paths) > 0 && !slices.ContainsFunc(ch.paths, func(p string) bool { return p == "" || !dirs[path.Clean(p)] }) {
			continue
		}
		out = append(out, runChmod{ch.mode, ch.bits, ch.cmd})
	}
	return out
}

// scriptSetuid parses a shell script with mvdan.cc/sh, as the shell splits
// it, and returns its chmod commands that set setuid or setgid, and the
// paths its mkdir and install -d commands create as directories. A script
// that does not parse is not judged.
func scriptSetuid(script string) ([]chmodCall, []string) {
	f, err := cmdsecret.Parse(script)
	if err != nil {
		return nil, nil
	}
	var out []chmodCall
	var dirs []string
	syntax.Walk(f, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		words := make([]string, 0, len(call.Args))
		for _, w := range call.Args {
			words = append(words, cmdsecret.Literal(w)) // "" for a non-literal word
		}
		if ch, ok := chmodSetuid(words); ok {
			out = append(out, ch)
		}
		if ch, ok := modeOptionSetuid(words); ok {
			out = append(out, ch)
		}
		dirs = append(dirs, madeDirs(words)...)
		return true
	})
	return out, dirs
}

// commandWords returns words without the sudo, env, busybox or exec that
// runs the command.
func commandWords(words []string) []string {
	for len(words) > 0 && (words[0] == "sudo" || words[0] == "env" || words[0] == "busybox" || words[0] == "exec") {
		words = words[1:]
	}
	return words
}

// isCommand reports whether word runs the command name (name or a path
// ending in /name).
func isCommand(word, name string) bool {
	return word == name || strings.HasSuffix(word, "/"+name)
}

// madeDirs returns the directories that words create if they are a mkdir
// command or an install -d (--directory): their operands, "" for those
// that are not literal.
func madeDirs(words []string) []string {
	words = commandWords(words)
	if len(words) < 2 {
		return nil
	}
	var takesValue string // short options that take the next word
	switch {
	case isCommand(words[0], "mkdir"):
		takesValue = "m"
	case isCommand(words[0], "install"):
		takesValue = "mogtS"
	default:
		return nil
	}
	dir := isCommand(words[0], "mkdir")
	var operands []string
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			operands = append(operands, words[i+1:]...)
			i = len(words)
		case w == "--directory":
			dir = true
		case strings.HasPrefix(w, "--"):
			if !strings.Contains(w, "=") && slices.Contains([]string{"--mode", "--owner", "--group", "--target-directory", "--suffix", "--context"}, w) {
				i++
			}
		case strings.HasPrefix(w, "-") && len(w) > 1:
			if strings.Contains(w, "d") && !isCommand(words[0], "mkdir") {
				dir = true
			}
			if strings.ContainsAny(w[len(w)-1:], takesValue) {
				i++
			}
		default:
			operands = append(operands, w)
		}
	}
	if !dir {
		return nil
	}
	return operands
}

// chmodCall is a chmod command that sets setuid or setgid.
type chmodCall struct {
	cmd       string // chmod, install or mkdir -m
	mode      string
	bits      uint64
	paths     []string // its operands, "" for those that are not literal
	recursive bool
}

// chmodSetuid reports whether words are a chmod command (run directly or
// through sudo, env or busybox) whose mode sets setuid or setgid, and that
// command.
func chmodSetuid(words []string) (chmodCall, bool) {
	words = commandWords(words)
	if len(words) < 2 || !isCommand(words[0], "chmod") {
		return chmodCall{}, false
	}
	ch := chmodCall{cmd: "chmod"}
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			if i+1 < len(words) {
				ch.mode, ch.paths = words[i+1], words[i+2:]
			}
		case w == "--recursive":
			ch.recursive = true
			continue
		case strings.HasPrefix(w, "--"):
			if !strings.Contains(w, "=") && slices.Contains(chmodOptions, w) {
				i++
			}
			continue
		case strings.HasPrefix(w, "-") && strings.Trim(w, "-Rcfv") == "":
			// -R, -v, -cf ...: options, not a mode such as -s.
			ch.recursive = ch.recursive || strings.Contains(w, "R")
			continue
		default:
			ch.mode = w
			// GNU chmod takes options after the mode too (chmod g+s
			// dir -R), up to a "--".
			for j := i + 1; j < len(words); j++ {
				switch p := words[j]; {
				case p == "--":
					ch.paths = append(ch.paths, words[j+1:]...)
					j = len(words)
				case p == "--recursive" || strings.HasPrefix(p, "-") && len(p) > 1 && strings.Trim(p, "-Rcfv") == "":
					ch.recursive = ch.recursive || p == "--recursive" || strings.Contains(p, "R")
				case strings.HasPrefix(p, "--"):
				default:
					ch.paths = append(ch.paths, p)
				}
			}
		}
		ch.bits = setuidBits(ch.mode)
		return ch, ch.bits != 0
	}
	return chmodCall{}, false
}

// modeOptionSetuid reports whether words are an install or mkdir command whose
// mode (-m MODE, -mMODE, --mode MODE, --mode=MODE) sets setuid or setgid:
// "install -m 4755 tool /usr/bin/tool" gives the file the bits as chmod
// would. The command's paths are those it creates as directories (mkdir,
// install -d), none for files, so that a setgid directory is left out as
// runSetuid leaves out a chmod of one.
func modeOptionSetuid(words []string) (chmodCall, bool) {
	words = commandWords(words)
	if len(words) < 2 || !isCommand(words[0], "install") && !isCommand(words[0], "mkdir") {
		return chmodCall{}, false
	}
	var mode string
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			i = len(words)
		case w == "--mode":
			if i+1 < len(words) {
				mode = words[i+1]
				i++
			}
		case strings.HasPrefix(w, "--mode="):
			mode = strings.TrimPrefix(w, "--mode=")
		case strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "--"):
			// A cluster of short options: -m takes the rest of the word,
			// or the next word.
			if k := strings.IndexByte(w, 'm'); k > 0 {
				if k+1 < len(w) {
					mode = w[k+1:]
				} else if i+1 < len(words) {
					mode = words[i+1]
					i++
				}
			}
		}
	}
	bits := setuidBits(mode)
	if bits == 0 {
		return chmodCall{}, false
	}
	cmd := path.Base(words[0]) + " -m"
	return chmodCall{cmd: cmd, mode: mode, bits: bits, paths: madeDirs(words)}, true
}
