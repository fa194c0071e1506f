package dockerfile

import (
	"regexp"
	"strconv"
	"strings"
)

// symbolicClause matches a symbolic chmod clause: who, operator, perms.
var symbolicClause = regexp.MustCompile(`^([ugoa]*)([-+=])([rwxXst]*)$`)

// worldWritable reports whether mode, as chmod, install -m, mkdir -m and
// BuildKit's --chmod read it, lets every user write: an octal mode with
// bit 0002 (777, 666, 0757), or symbolic clauses that, read in order as
// chmod applies them, leave others' w set (o+w, a=rwx, go+w; not
// a+rwX,o-w), unless the mode sets the sticky bit (1777, +t: the /tmp
// pattern, where users cannot remove each other's files). A clause
// without who (+w, =rwx) follows the umask, which keeps others from
// writing, and is not counted. Modes that are not literal are not
// judged.
func worldWritable(mode string) bool {
	mode = strings.TrimSpace(mode)
	if mode == "" {
		return false
	}
	if n, err := strconv.ParseUint(mode, 8, 32); err == nil {
		return n&0o002 != 0 && n&0o1000 == 0
	}
	ww, sticky := false, false
	for _, clause := range strings.Split(mode, ",") {
		m := symbolicClause.FindStringSubmatch(clause)
		if m == nil {
			continue
		}
		who, op, perms := m[1], m[2], m[3]
		others := strings.ContainsAny(who, "oa")
		switch op {
		case "+":
			ww = ww || others && strings.Contains(perms, "w")
			sticky = sticky || strings.Contains(perms, "t")
		case "-":
			ww = ww && !(others && strings.Contains(perms, "w"))
			sticky = sticky && !strings.Contains(perms, "t")
		case "=":
			if others {
				ww = strings.Contains(perms, "w")
				sticky = strings.Contains(perms, "t")
			}
		}
	}
	return ww && !sticky
}

// permSite is an instruction that makes files of a stage world-writable.
type permSite struct {
	line int
	what string // "RUN chmod -R 777", "COPY --chmod=666"
}

// runWorldWritable returns the commands of a RUN that make files
// world-writable (chmod, install -m, mkdir -m), as "chmod 777",
// "chmod -R o+w", "mkdir -m 777", of its commands (runCommands).
func runWorldWritable(cmds [][]string) []string {
	var out []string
	for _, words := range cmds {
		if ch, ok := parseChmod(words); ok && worldWritable(ch.mode) {
			what := "chmod " + ch.mode
			if ch.recursive {
				what = "chmod -R " + ch.mode
			}
			out = append(out, what)
			continue
		}
		if im, ok := parseInstallMkdir(words); ok && worldWritable(im.mode) {
			out = append(out, im.cmd+" -m "+im.mode)
		}
	}
	return out
}
