package podsec_test

import (
	"strings"
	"testing"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/podsec"
)

// trusted is the trusted registry list of the pod/untrusted-registry
// cases.
var trusted = podsec.Options{TrustedRegistries: []string{"registry.example", "ghcr.io/shop", "docker.io/library"}}

// withPorts adds ports lines to the app container of hardened.
func withPorts(lines string) string {
	return replace("        resources:\n", "        ports:\n"+lines+"\n        resources:\n")
}

func init() {
	img := "image: registry.example/app:1.0@" + sha
	suites["pod/untrusted-registry"] = []testCase{
		{"an image from an unlisted registry", replace(img, "image: quay.io/someone/app:1.0@"+sha), trusted,
			[]want{{finding.Medium, "#img", dep, []string{`container "app"`, "quay.io/someone/app", "none of the trusted registries (registry.example, ghcr.io/shop, docker.io/library) covers"}}}},
		{"a Docker Hub image outside library", replace(img, "image: bitnami/redis:7.2@"+sha), trusted,
			[]want{{finding.Medium, "#img", dep, []string{"docker.io/bitnami/redis"}}}},
		{"a prefix is matched by whole segments", replace(img, "image: ghcr.io/shopping/app:1@"+sha), trusted,
			[]want{{finding.Medium, "#img", dep, []string{"ghcr.io/shopping/app"}}}},
		{"an init container", with("containers", "\n      initContainers:\n      - {name: init, image: 'quay.io/x/init:1@"+sha+"'} #init"), trusted,
			[]want{{finding.Medium, "#init", dep, []string{`init container "init"`}}}},
		{"an invalid reference cannot be judged trusted", replace(img, "image: Registry.Example/App:1"), trusted,
			[]want{{finding.Medium, "#img", dep, []string{"not a valid image reference"}}}},
		{"trusted registry, prefix and official image",
			with("containers", "\n      - {name: side, image: 'ghcr.io/shop/side:1@"+sha+"', resources: {limits: {cpu: 1, memory: 1Gi}}, securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}}\n      - {name: proxy, image: 'nginx:1.27@"+sha+"', resources: {limits: {cpu: 1, memory: 1Gi}}, securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}}"),
			trusted, nil},
		{"no list configured: silent", replace(img, "image: quay.io/someone/app:1.0@"+sha), podsec.Options{}, nil},
	}
	suites["pod/privileged-port"] = []testCase{
		{"port 80", withPorts("        - {containerPort: 80, name: http} #p80"), podsec.Options{},
			[]want{{finding.Low, "#p80", dep, []string{`container "app"`, "privileged port 80", "NET_BIND_SERVICE"}}}},
		{"each low port", withPorts("        - {containerPort: 443} #p443\n        - {containerPort: 8443}\n        - {containerPort: 53, protocol: UDP} #p53"), podsec.Options{},
			[]want{{finding.Low, "#p443", dep, nil}, {finding.Low, "#p53", dep, []string{"port 53"}}}},
		{"a sysctl above 1024 makes more ports privileged",
			strings.Replace(withPorts("        - {containerPort: 1500} #p1500"), "seccompProfile: {type: RuntimeDefault}", "seccompProfile: {type: RuntimeDefault}\n        sysctls: [{name: net/ipv4/ip_unprivileged_port_start, value: \"2000\"}]", 1),
			podsec.Options{}, []want{{finding.Low, "#p1500", dep, []string{"privileged port 1500"}}}},
		{"ports of 1024 and above", withPorts("        - {containerPort: 1024}\n        - {containerPort: 8080, name: http}"), podsec.Options{}, nil},
		{"the pod lowers ip_unprivileged_port_start",
			strings.Replace(withPorts("        - {containerPort: 80}"), "seccompProfile: {type: RuntimeDefault}", "seccompProfile: {type: RuntimeDefault}\n        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: \"0\"}]", 1),
			podsec.Options{}, nil},
	}
}

func TestTrustedRegistriesInvalid(t *testing.T) {
	_, err := podsec.Audit(load(t, with()), podsec.Options{TrustedRegistries: []string{"myorg"}})
	if err == nil || !strings.Contains(err.Error(), "not a registry host") {
		t.Fatalf("Audit with an invalid trusted registry: error %v", err)
	}
}
