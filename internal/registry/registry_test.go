package registry

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tr := MustParse("registry.example.com", "ghcr.io/myorg", "docker.io/library", "localhost:5000", "index.docker.io/bitnami")
	tests := []struct {
		image, name string
		trusted     bool
	}{
		{"nginx", "docker.io/library/nginx", true},
		{"nginx:1.27", "docker.io/library/nginx", true},
		{"library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io/library/nginx", true},
		{"docker.io/nginx", "docker.io/library/nginx", true},
		{"index.docker.io/library/redis:7", "docker.io/library/redis", true},
		{"bitnami/redis:7", "docker.io/bitnami/redis", true},
		{"myorg/app", "docker.io/myorg/app", false},
		{"registry.example.com/team/app:1", "registry.example.com/team/app", true},
		{"registry.example.com:5000/app", "registry.example.com:5000/app", false},
		{"registry.example.com.evil.io/app", "registry.example.com.evil.io/app", false},
		{"ghcr.io/myorg/app:2", "ghcr.io/myorg/app", true},
		{"ghcr.io/myorg/sub/app", "ghcr.io/myorg/sub/app", true},
		{"ghcr.io/myorganisation/app", "ghcr.io/myorganisation/app", false},
		{"ghcr.io/other/app", "ghcr.io/other/app", false},
		{"localhost:5000/app", "localhost:5000/app", true},
		{"localhost/app", "localhost/app", false},
		{"quay.io/prometheus/node-exporter", "quay.io/prometheus/node-exporter", false},
	}
	for _, tt := range tests {
		name, trusted, err := tr.Check(tt.image)
		if err != nil || name != tt.name || trusted != tt.trusted {
			t.Errorf("Check(%q) = %q, %v, %v; want %q, %v", tt.image, name, trusted, err, tt.name, tt.trusted)
		}
	}
	if _, _, err := tr.Check("Nginx:UPPER"); err == nil {
		t.Error("Check of an upper-case repository: want an error")
	}
	if got, want := tr.String(), "registry.example.com, ghcr.io/myorg, docker.io/library, localhost:5000, docker.io/bitnami"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for entry, want := range map[string]string{
		"":                         "empty",
		"myorg":                    "not a registry host",
		"myorg/app":                "docker.io/myorg/app",
		"ghcr.io/myorg/app:1.0":    "no tag or digest",
		"ghcr.io/app@sha256:abc":   "no tag or digest",
		"ghcr.io/UPPER":            "not a registry or repository prefix",
		"bad_host.example.com/app": "not a registry or repository prefix",
	} {
		_, err := Parse([]string{"ok.example.com", entry})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "entry 2") {
			t.Errorf("Parse(%q) error = %v, want one with %q naming entry 2", entry, err, want)
		}
	}
	if tr, err := Parse(nil); err != nil || tr.Configured() {
		t.Errorf("Parse(nil) = %v, %v: want an unconfigured list", tr, err)
	}
}
