package compose

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAuditProject checks that files merged into one project are judged
// as docker compose runs them: a later file changing or joining a service
// of an earlier one is judged with it, and each finding points at the
// file that sets what it is about.
func TestAuditProject(t *testing.T) {
	const base = "compose.yaml"
	const override = "compose.override.yaml"
	cases := []struct {
		name           string
		base, override string
		rule           string
		want           []string // file:line
	}{
		{"override joins the network of a host-networked service of the base", `services:
  db:
    image: postgres
    network_mode: host
`, `services:
  tap:
    image: busybox
    network_mode: service:db
`, ruleHostNetwork, []string{"compose.override.yaml:4", "compose.yaml:4"}},
		{"override puts the service a base service joins on the host's network", `services:
  vpn:
    image: wireguard
  app:
    image: nginx
    network_mode: service:vpn
`, `services:
  vpn:
    network_mode: host
`, ruleHostNetwork, []string{"compose.override.yaml:3", "compose.yaml:6"}},
		{"override makes a base service privileged", `services:
  web:
    image: nginx
`, `services:
  web:
    privileged: true
`, rulePrivileged, []string{"compose.override.yaml:3"}},
		{"override takes a base service off the host's network", `services:
  web:
    image: nginx
    network_mode: host
`, `services:
  web:
    network_mode: bridge
`, ruleHostNetwork, nil},
		{"override publishes a data store of the base", `services:
  db:
    image: postgres:16
`, `services:
  db:
    ports: ["5432:5432"]
`, ruleDatastorePort, []string{"compose.override.yaml:3"}},
		{"override joins a base service's container by its default name", `name: shop
services:
  db:
    image: postgres
    network_mode: host
`, `services:
  tap:
    image: busybox
    network_mode: container:shop-db-1
`, ruleHostNetwork, []string{"compose.override.yaml:4", "compose.yaml:5"}},
		{"Dockerfile written into the base, service changed by the override", `services:
  web:
    build:
      dockerfile_inline: |
        FROM nginx:1.27
        USER root
`, `services:
  web:
    environment:
      A: b
`, "dockerfile/user-root", []string{"compose.yaml:6"}},
		{"cap_add items of both files", `services:
  web:
    image: nginx
    cap_add:
      - CHOWN
      - SYS_ADMIN
`, `services:
  web:
    cap_add:
      - NET_ADMIN
`, ruleDangerousCapability, []string{"compose.override.yaml:4", "compose.yaml:6"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := AuditProject([]Source{{File: base, Src: []byte(tc.base)}, {File: override, Src: []byte(tc.override)}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				if f.Rule == tc.rule {
					got = append(got, fmt.Sprintf("%s:%d", f.File, f.Line))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings of %s (-want +got):\n%s", tc.rule, diff)
			}
		})
	}
}

// TestProjectNameFromEnv: the project name in the default container names
// container:<name> joins is the .env's COMPOSE_PROJECT_NAME, which docker
// compose prefers to the name: key, and name: is interpolated from the
// .env (before: container:shop-db-1 was not resolved when .env set
// COMPOSE_PROJECT_NAME=shop, and the join of the host's network passed).
func TestProjectNameFromEnv(t *testing.T) {
	const src = `name: ${NAME:-other}
services:
  db:
    image: postgres
    network_mode: host
  tap:
    image: busybox
    network_mode: container:shop-db-1
`
	for _, env := range []map[string]string{{"COMPOSE_PROJECT_NAME": "shop"}, {"NAME": "shop"}, {"COMPOSE_PROJECT_NAME": "Shop", "NAME": "x"}} {
		fs, err := Audit("compose.yaml", []byte(src), Options{Environment: env})
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, f := range fs {
			if f.Rule == ruleHostNetwork {
				got = append(got, f.Line)
			}
		}
		if diff := cmp.Diff([]int{5, 8}, got); diff != "" {
			t.Errorf("env %v: lines of %s (-want +got):\n%s", env, ruleHostNetwork, diff)
		}
	}
}

// TestAuditProjectParseError: an error of a later file of the project is
// reported at that file's line.
func TestAuditProjectParseError(t *testing.T) {
	_, err := AuditProject([]Source{
		{File: "compose.yaml", Src: []byte("services:\n  web:\n    image: nginx\n")},
		{File: "compose.override.yaml", Src: []byte("services:\n  web:\n    foo: 1\n")},
	}, Options{})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "compose.override.yaml" || pe.Line != 3 {
		t.Errorf("err = %#v, want a *ParseError at compose.override.yaml:3", err)
	}
}

// TestAuditProjectIncluded: a service joining, with service:NAME, the
// namespace of a service of a file the project includes is judged as
// joining it (before: the included file was not loaded, the chain ended,
// and a service on the host's network through it passed).
func TestAuditProjectIncluded(t *testing.T) {
	main := Source{File: "compose.yaml", Src: []byte("include:\n  - net.yaml\nservices:\n  app:\n    image: nginx:1.27\n    network_mode: service:vpn\n    pid: service:vpn\n")}
	for _, tc := range []struct {
		name     string
		included string
		want     []string
	}{
		{"on the host's namespaces", "services:\n  vpn:\n    image: wg:1\n    network_mode: host\n    pid: host\n",
			[]string{ruleHostNetwork + " compose.yaml:6", ruleHostPID + " compose.yaml:7"}},
		{"on its own", "services:\n  vpn:\n    image: wg:1\n", nil},
		{"does not load", "services: [", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := AuditProject([]Source{main}, Options{Included: []Source{{File: "net.yaml", Src: []byte(tc.included)}}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				if f.Rule == ruleHostNetwork || f.Rule == ruleHostPID {
					got = append(got, fmt.Sprintf("%s %s:%d", f.Rule, f.File, f.Line))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuditProjectIncludedContainer: container:NAME naming the container
// of a service of an included file (its container_name, or the name
// Compose gives it, <project>-<service>-<index>) joins that service
// (before: only the project's own services were looked up, and a service
// on the host's network through an included one passed).
func TestAuditProjectIncludedContainer(t *testing.T) {
	for _, tc := range []struct {
		name, join, included string
		want                 []string
	}{
		{"container_name", "container:edge", "services:\n  vpn:\n    image: wg:1\n    container_name: edge\n    network_mode: host\n    pid: host\n",
			[]string{ruleHostNetwork + " compose.yaml:7", ruleHostPID + " compose.yaml:8"}},
		{"default name", "container:shop-vpn-1", "services:\n  vpn:\n    image: wg:1\n    network_mode: host\n    pid: host\n",
			[]string{ruleHostNetwork + " compose.yaml:7", ruleHostPID + " compose.yaml:8"}},
		{"default name, container_name set", "container:shop-vpn-1", "services:\n  vpn:\n    image: wg:1\n    container_name: edge\n    network_mode: host\n    pid: host\n", nil},
		{"on its own", "container:edge", "services:\n  vpn:\n    image: wg:1\n    container_name: edge\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			main := Source{File: "compose.yaml", Src: []byte("name: shop\ninclude:\n  - net.yaml\nservices:\n  app:\n    image: nginx:1.27\n    network_mode: " + tc.join + "\n    pid: " + tc.join + "\n")}
			fs, err := AuditProject([]Source{main}, Options{Included: []Source{{File: "net.yaml", Src: []byte(tc.included)}}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				if f.Rule == ruleHostNetwork || f.Rule == ruleHostPID {
					got = append(got, fmt.Sprintf("%s %s:%d", f.Rule, f.File, f.Line))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
