package compose

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/finding"
)

// TestInlineDockerfile: a Dockerfile written into the Compose file
// (build.dockerfile_inline) is judged as a Dockerfile, at the lines of
// the file that hold its lines: USER root in it, which docker compose
// builds into the service's image, fails the gate. build.target picks the
// stage judged; one that does not parse is an input error at its line.
func TestInlineDockerfile(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		rule      string
		want      []hit
	}{
		{"user root", `services:
  web:
    image: example/web:1
    build:
      context: .
      dockerfile_inline: |
        FROM debian:12
        USER root
`, "dockerfile/user-root", []hit{{8, finding.High}}},
		{"target stage", `services:
  web:
    image: example/web:1
    build:
      context: .
      target: debug
      dockerfile_inline: |
        FROM debian:12 AS debug
        USER 0

        FROM gcr.io/distroless/static-debian12:nonroot
        USER 65532
`, "dockerfile/user-root", []hit{{9, finding.High}}},
		{"non-root", `services:
  web:
    image: example/web:1
    build:
      dockerfile_inline: |
        FROM debian:12
        USER 10001
`, "dockerfile/user-root", nil},
		{"quoted, at the key's line", `services:
  web:
    image: example/web:1
    build: {dockerfile_inline: "FROM debian:12\nUSER root\n"}
`, "dockerfile/user-root", []hit{{4, finding.High}}},
		{"does not parse", `services:
  web:
    image: example/web:1
    build:
      dockerfile_inline: |
        USER root
`, ruleInlineUnreadable, []hit{{6, finding.High}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(hitsOf(t, tc.src, tc.rule), tc.want); diff != "" {
				t.Errorf("findings of %s (-got +want):\n%s", tc.rule, diff)
			}
		})
	}
}
