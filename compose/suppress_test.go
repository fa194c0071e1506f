package compose

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSuppressions lists, for each input, the findings of the rules it
// is about as "line rule object", followed by "suppressed@<comment line>"
// when a comment silenced them.
func TestSuppressions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []string
		src   string
		want  []string
	}{
		{
			name:  "above a service's key: that service only, missing-X findings included",
			rules: []string{ruleNoUser},
			src: `services:
  # ward:ignore compose/no-user the image runs as uid 101
  web:
    image: nginx
  api:
    image: example/api
`,
			want: []string{
				"3 compose/no-user service web suppressed@2",
				"5 compose/no-user service api",
			},
		},
		{
			// The attack: a line of a service's script that reads as a
			// suppression comment silenced privileged: true below it.
			name:  "a ward:ignore line inside a block scalar is the script's text, not a comment",
			rules: []string{rulePrivileged, ruleBadSuppression},
			src: `services:
  web:
    image: nginx
    command:
      - sh
      - -c
      - |
        echo hi
        # ward:ignore compose/privileged the healthcheck needs it
    privileged: true
`,
			want: []string{
				"9 compose/bad-suppression ",
				"10 compose/privileged service web",
			},
		},
		{
			name:  "a Dockerfile's comment in build.dockerfile_inline is the Dockerfile audit's",
			rules: []string{ruleBadSuppression},
			src: `services:
  web:
    image: example/web
    build:
      dockerfile_inline: |
        FROM alpine
        # ward:ignore dockerfile/user-root needs raw sockets for ping
        USER root
`,
			want: nil,
		},
		{
			name:  "nor inside a quoted string over several lines",
			rules: []string{rulePrivileged, ruleBadSuppression},
			src: `services:
  web:
    image: nginx
    entrypoint: "sh -c 'true
      # ward:ignore compose/privileged the healthcheck needs it
      '"
    privileged: true
`,
			want: []string{
				"5 compose/bad-suppression ",
				"7 compose/privileged service web",
			},
		},
		{
			name:  "a comment after a block scalar, less indented, is one",
			rules: []string{rulePrivileged, ruleBadSuppression},
			src: `services:
  web:
    image: nginx
    command: |
      echo hi
    # ward:ignore compose/privileged reads host hardware sensors
    privileged: true
`,
			want: []string{"7 compose/privileged service web suppressed@6"},
		},
		{
			// The attack: with the services merged in (no services key
			// written), every comment was file-wide, so one above a
			// service's key silenced the rule for every service.
			name:  "services through a merge key: a comment after the first key is not file-wide",
			rules: []string{rulePrivileged},
			src: `x-project: &project
  services:
    agent:
      image: monitoring/agent
      # ward:ignore compose/privileged reads host hardware sensors
      privileged: true
    web:
      image: nginx
      privileged: true
<<: *project
`,
			want: []string{
				"0 compose/privileged service agent",
				"0 compose/privileged service web",
			},
		},
		{
			name:  "services through a merge key: a comment before the first key is file-wide",
			rules: []string{rulePrivileged},
			src: `# ward:ignore compose/privileged lab hosts only
x-project: &project
  services:
    web:
      image: nginx
      privileged: true
<<: *project
`,
			want: []string{"0 compose/privileged service web suppressed@1"},
		},
		{
			// The attack: a reviewed comment above an anchor's key before
			// services was file-wide, so a service's own privileged: true
			// added later was silenced too.
			name:  "above an anchor's key before services: that key only",
			rules: []string{rulePrivileged},
			src: `x-common: &common
  # ward:ignore compose/privileged the agents read host sensors
  privileged: true
services:
  agent: {<<: *common, image: a}
  web:
    image: b
    privileged: true
`,
			want: []string{
				"3 compose/privileged service agent suppressed@2",
				"8 compose/privileged service web",
			},
		},
		{
			name:  "above a top-level key or a document marker before services: file-wide",
			rules: []string{rulePrivileged},
			src: `# ward:ignore compose/privileged lab hosts only
---
x-common: &common
  privileged: true
services:
  agent: {<<: *common, image: a}
  web:
    image: b
    privileged: true
`,
			want: []string{
				"4 compose/privileged service agent suppressed@1",
				"9 compose/privileged service web suppressed@1",
			},
		},
		{
			name:  "above the offending key",
			rules: []string{rulePrivileged, ruleHostPID},
			src: `services:
  agent:
    image: monitoring/agent
    # ward:ignore compose/privileged reads host hardware sensors
    privileged: true
    pid: host
`,
			want: []string{
				"5 compose/privileged service agent suppressed@4",
				"6 compose/host-pid service agent",
			},
		},
		{
			name:  "above another key of the service silences the rule for the service",
			rules: []string{ruleWritableRootFS},
			src: `services:
  web:
    image: nginx
    # ward:ignore compose/writable-root-fs nginx writes its cache under /var/cache
    ports: ["80:80"]
`,
			want: []string{"2 compose/writable-root-fs service web suppressed@4"},
		},
		{
			name:  "before services: the whole file, several rules, blank lines allowed",
			rules: []string{ruleNoUser, ruleWritableRootFS},
			src: `# Local development stack.
# ward:ignore compose/no-user,compose/writable-root-fs development only, never deployed

services:
  web:
    image: nginx
  api:
    image: example/api
`,
			want: []string{
				"5 compose/no-user service web suppressed@2",
				"5 compose/writable-root-fs service web suppressed@2",
				"7 compose/no-user service api suppressed@2",
				"7 compose/writable-root-fs service api suppressed@2",
			},
		},
		{
			name:  "a service comment wins over the file-wide one",
			rules: []string{ruleNoUser},
			src: `# ward:ignore compose/no-user images are built with USER app
services:
  # ward:ignore compose/no-user runs as uid 70, see the image
  db:
    image: postgres
`,
			want: []string{"4 compose/no-user service db suppressed@3"},
		},
		{
			name:  "other rules and other services are not silenced",
			rules: []string{rulePrivileged, ruleHostNetwork},
			src: `services:
  a:
    image: nginx
    privileged: true
  # ward:ignore compose/privileged needs /dev/kvm
  b:
    image: nginx
    network_mode: host
    privileged: true
`,
			want: []string{
				"4 compose/privileged service a",
				"8 compose/host-network service b",
				"9 compose/privileged service b suppressed@5",
			},
		},
		{
			name:  "above a key shared through extends",
			rules: []string{rulePrivileged},
			src: `services:
  base:
    image: nginx
    # ward:ignore compose/privileged builds images with buildkit
    privileged: true
  web:
    extends: base
`,
			want: []string{
				"5 compose/privileged service base suppressed@4",
				"5 compose/privileged service web suppressed@4",
			},
		},
		{
			name:  "no space after #, and look-alikes that are not suppressions",
			rules: []string{ruleNoUser, ruleBadSuppression},
			src: `services:
  #ward:ignore compose/no-user uid set by the image
  a:
    image: nginx
  # ward:ignored compose/no-user not a suppression
  # see ward:ignore compose/no-user not a suppression either
  b:
    image: nginx
`,
			want: []string{
				"3 compose/no-user service a suppressed@2",
				"7 compose/no-user service b",
			},
		},
		{
			name:  "without a reason: reported, silences nothing",
			rules: []string{ruleNoUser, ruleBadSuppression},
			src: `services:
  # ward:ignore compose/no-user
  web:
    image: nginx
`,
			want: []string{
				"2 compose/bad-suppression service web",
				"3 compose/no-user service web",
			},
		},
		{
			name:  "an unknown rule among known ones: reported, silences nothing",
			rules: []string{ruleNoUser, ruleBadSuppression},
			src: `# ward:ignore compose/no-user,netpol/host-network shared ignore list
services:
  web:
    image: nginx
`,
			want: []string{
				"1 compose/bad-suppression ",
				"3 compose/no-user service web",
			},
		},
		{
			name:  "bad suppressions cannot be suppressed",
			rules: []string{ruleBadSuppression},
			src: `# ward:ignore compose/bad-suppression we know
services:
  web:
    image: nginx
    # ward:ignore compose/no-user
    user: "1000"
`,
			want: []string{
				"1 compose/bad-suppression ",
				"5 compose/bad-suppression service web",
			},
		},
		{
			name:  "no rule at all",
			rules: []string{ruleBadSuppression},
			src: `services:
  web:
    image: nginx
    # ward:ignore
    user: "1000"
`,
			want: []string{"4 compose/bad-suppression service web"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range auditSrc(t, tc.src) {
				if !slices.Contains(tc.rules, f.Rule) {
					continue
				}
				s := fmt.Sprintf("%d %s %s", f.Line, f.Rule, f.Object)
				if f.Suppressed != nil {
					if f.Suppressed.By != "comment" || f.Suppressed.Reason == "" {
						t.Errorf("suppression %+v lacks by or reason", f.Suppressed)
					}
					s += fmt.Sprintf(" suppressed@%d", f.Suppressed.Line)
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

func TestSuppressionReason(t *testing.T) {
	src := `services:
  # ward:ignore compose/no-user   the image runs as uid 101  
  web:
    image: nginx
`
	for _, f := range auditSrc(t, src) {
		if f.Rule == ruleNoUser {
			if f.Suppressed == nil || f.Suppressed.Reason != "the image runs as uid 101" {
				t.Errorf("suppression = %+v, want reason %q", f.Suppressed, "the image runs as uid 101")
			}
			return
		}
	}
	t.Fatal("no no-user finding")
}

// TestSuppressionDecodings bounds the work of telling comments from
// string text: it decoded the whole file once per # ward:ignore line, so
// a checked-in file of many markers took minutes (20,000 in 1.1 MB: over
// two minutes). The file is now decoded a bounded number of times, and
// the results are those of checking each marker alone.
func TestSuppressionDecodings(t *testing.T) {
	const n = 1000
	var comments, script strings.Builder
	comments.WriteString("services:\n")
	script.WriteString("services:\n  web:\n    image: nginx\n    command: |\n")
	for i := range n {
		fmt.Fprintf(&comments, "  # ward:ignore compose/no-user reason %d\n  s%d:\n    image: nginx\n    user: \"1000\"\n", i, i)
		fmt.Fprintf(&script, "      # ward:ignore compose/no-user reason %d\n", i)
	}
	for _, tc := range []struct {
		name     string
		src      string
		wantBad  int
		wantSups int
	}{
		{"every marker a comment", comments.String(), 0, n},
		{"every marker inside a block scalar", script.String(), n, 0},
		// One in a string: the first markers are checked one by one, the
		// rest say they were not.
		{"one marker in a string, then comments", "services:\n  web:\n    image: nginx\n    command: |\n      # ward:ignore compose/no-user text\n" + strings.TrimPrefix(comments.String(), "services:\n"), 1 + n - (maxMarkerChecks - 1), maxMarkerChecks - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.src)
			pos, perr := parsePositions(src)
			if perr != nil {
				t.Fatal(perr)
			}
			before := decodings.Load()
			sups, bad := parseSuppressions(src, "compose.yaml", pos)
			if d := decodings.Load() - before; d > maxMarkerChecks+2 {
				t.Errorf("%d markers: the file was decoded %d times, want at most %d", n, d, maxMarkerChecks+2)
			}
			if len(sups) != tc.wantSups || len(bad) != tc.wantBad {
				t.Errorf("got %d suppressions and %d bad ones, want %d and %d", len(sups), len(bad), tc.wantSups, tc.wantBad)
			}
			if len(bad) > 1 && tc.wantSups > 0 && !strings.Contains(bad[len(bad)-1].Message, "is not checked") {
				t.Errorf("an unchecked marker says %q", bad[len(bad)-1].Message)
			}
		})
	}
}

// TestSuppressionMixed checks markers one by one when some lie in a
// string: the comments still suppress, the string's text does not.
func TestSuppressionMixed(t *testing.T) {
	src := []byte(`services:
  # ward:ignore compose/no-user the image runs as uid 101
  web:
    image: nginx
    command: |
      # ward:ignore compose/no-user not a comment
      run
  # ward:ignore compose/no-user the image runs as uid 102
  api:
    image: example/api
`)
	pos, perr := parsePositions(src)
	if perr != nil {
		t.Fatal(perr)
	}
	sups, bad := parseSuppressions(src, "compose.yaml", pos)
	var got []int
	for _, s := range sups {
		got = append(got, s.line)
	}
	for _, f := range bad {
		got = append(got, -f.Line)
	}
	if want := []int{2, 8, -6}; !slices.Equal(got, want) {
		t.Errorf("suppression lines (bad negated) = %v, want %v", got, want)
	}
}
