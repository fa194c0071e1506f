package compose

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUnsetVariables: a security-relevant field whose value comes from a
// variable that no .env sets and that has no default is reported at its
// line (before: judged as empty, no finding, while the deploy's
// environment may set NET=host). Set variables and defaults are not.
func TestUnsetVariables(t *testing.T) {
	const head = "services:\n  web:\n    image: nginx:1.27\n"
	cases := []struct {
		name     string
		body     string
		env      map[string]string
		override string // a later file of the project
		want     []string
	}{
		{"network_mode", "    network_mode: ${NET}\n", nil, "", []string{"compose.yaml:4 $NET"}},
		{"pid, ipc, userns_mode", "    pid: $P\n    ipc: ${I:?set it}\n    userns_mode: ${U:+host}\n", nil, "",
			[]string{"compose.yaml:4 $P", "compose.yaml:5 $I", "compose.yaml:6 $U"}},
		{"privileged", "    privileged: ${PRIV}\n", nil, "", []string{"compose.yaml:4 $PRIV"}},
		{"cap_add item", "    cap_add:\n      - CHOWN\n      - ${CAP}\n", nil, "", []string{"compose.yaml:6 $CAP"}},
		{"unset inside a default", "    network_mode: ${NET:-${FALLBACK}}\n", nil, "", []string{"compose.yaml:4 $FALLBACK"}},
		{"set in the .env", "    network_mode: ${NET}\n", map[string]string{"NET": "bridge"}, "", nil},
		{"set empty in the .env", "    network_mode: ${NET}\n", map[string]string{"NET": ""}, "", nil},
		{"a default", "    network_mode: ${NET:-bridge}\n    pid: ${P-}\n", nil, "", nil},
		{"escaped", "    network_mode: $${NET}\n", nil, "", nil},
		{"not a security field", "    hostname: ${NAME}\n", nil, "", nil},
		{"user", "    user: ${RUNAS}\n", nil, "", []string{"compose.yaml:4 $RUNAS"}},
		{"user with a default", "    user: ${RUNAS:-10001}\n", nil, "", nil},
		{"devices item", "    devices:\n      - /dev/fuse\n      - ${DEV:?}:/dev/x\n", nil, "", []string{"compose.yaml:6 $DEV"}},
		{"volume source", "    volumes:\n      - ./data/${SUB}:/data\n      - data:/x/${T}\n", nil, "", []string{"compose.yaml:5 $SUB"}},
		{"volume source default with colon", "    volumes:\n      - ${HOST_DIR:-/srv:x}${REST}:/host:ro\n", nil, "", []string{"compose.yaml:5 $REST"}},
		{"volume long syntax", "    volumes:\n      - type: bind\n        source: ${SRC:+/}\n        target: /src\n", nil, "", []string{"compose.yaml:6 $SRC"}},
		{"hook privileged and user", "    post_start:\n      - command: [\"true\"]\n        privileged: ${P:-false}\n        user: ${HU}\n    pre_stop:\n      - command: [\"true\"]\n        user: ${PU:?}\n", nil, "",
			[]string{"compose.yaml:7 $HU", "compose.yaml:10 $PU"}},
		{"hook command is not judged", "    post_start:\n      - command: [\"echo\", \"${X}\"]\n", nil, "", nil},
		{"overridden by a later file", "    network_mode: ${NET}\n", nil, "services:\n  web:\n    network_mode: bridge\n", nil},
		{"in the later file", "", nil, "services:\n  web:\n    network_mode: ${NET}\n", []string{"compose.override.yaml:3 $NET"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := []Source{{File: "compose.yaml", Src: []byte(head + tc.body)}}
			if tc.override != "" {
				files = append(files, Source{File: "compose.override.yaml", Src: []byte(tc.override)})
			}
			fs, err := AuditProject(files, Options{Environment: tc.env})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				if f.Rule != ruleUnsetVariable {
					continue
				}
				got = append(got, fmt.Sprintf("%s:%d %s", f.File, f.Line, varOf(f.Message)))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

var setsVar = regexp.MustCompile(`sets (\$[A-Za-z0-9_]+(?:, \$[A-Za-z0-9_]+)*), nor`)

// varOf is the variables a compose/unset-variable message names.
func varOf(msg string) string {
	if m := setsVar.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return "?"
}

// TestUserFromUnsetVariables: user: "${UID}:${GID}" (a dev container's,
// with variables the shell sets) is ":" when docker compose finds them
// unset, which runs the service as root; the finding said "user: : runs
// the service as root". It now names the value written, the value
// judged and why that is root.
func TestUserFromUnsetVariables(t *testing.T) {
	src := "services:\n  dev:\n    image: mcr.microsoft.com/devcontainers/go\n    user: \"${UID}:${GID}\"\n"
	fs, err := AuditProject([]Source{{File: "compose.yaml", Src: []byte(src)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var unset, root []string
	for _, f := range fs {
		switch f.Rule {
		case ruleUnsetVariable:
			unset = append(unset, f.Message)
		case ruleUserRoot:
			root = append(root, f.Message)
		}
	}
	if len(unset) != 1 {
		t.Errorf("unset-variable findings %q, want one", unset)
	}
	want := `user "${UID}:${GID}", which is ":" once its variables are replaced (docker compose makes one that is not set an empty string), names no user (nothing before the colon): Docker then runs the service as root (uid 0)`
	if len(root) != 1 || root[0] != want {
		t.Errorf("user-root findings %q, want [%q]", root, want)
	}
	// Set in the .env: the user is known, and not root.
	fs, err = AuditProject([]Source{{File: "compose.yaml", Src: []byte(src)}}, Options{Environment: map[string]string{"UID": "1000", "GID": "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Rule == ruleUserRoot || f.Rule == ruleUnsetVariable {
			t.Errorf("with the .env: %s %s", f.Rule, f.Message)
		}
	}
}
