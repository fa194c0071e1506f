package dockerfile_test

import (
	"testing"

	"github.com/wardsec/ward/dockerfile"
	"github.com/wardsec/ward/finding"
)

// trustedOpts trusts the team's registry, its GitHub organisation and
// Docker Hub's official images.
var trustedOpts = dockerfile.Options{TrustedRegistries: []string{"registry.example.com", "ghcr.io/myorg", "docker.io/library"}}

func init() {
	suites["dockerfile/untrusted-registry"] = []testCase{
		{name: "final and build stages from untrusted registries", opts: trustedOpts, src: `FROM quay.io/builders/go:1.23 AS build
RUN go build -o /app .
FROM ghcr.io/other/static:1
COPY --from=build /app /app
USER 65532
`, want: []want{
			{finding.Medium, "FROM quay.io/builders/go:1.23", "stage 0 (build)", []string{"FROM quay.io/builders/go:1.23 pulls quay.io/builders/go", "registry.example.com, ghcr.io/myorg, docker.io/library"}},
			{finding.Medium, "FROM ghcr.io/other/static:1", "stage 1", []string{"ghcr.io/other/static"}},
		}},
		{name: "a Docker Hub image outside library, through a build argument", opts: trustedOpts, src: `ARG BASE=bitnami/python:3.12
FROM ${BASE}
USER 1000
`, want: []want{{finding.Medium, "FROM ${BASE}", "stage 0", []string{"FROM ${BASE} (bitnami/python:3.12) pulls docker.io/bitnami/python"}}}},
		{name: "COPY --from an image", opts: trustedOpts, src: `FROM registry.example.com/base:1
COPY --from=docker.io/someone/tools:1 /bin/tool /bin/tool
USER 1000
`, want: []want{{finding.Medium, "COPY --from", "stage 0", []string{"COPY --from=docker.io/someone/tools:1 pulls docker.io/someone/tools"}}}},
		{name: "RUN --mount from an image", opts: trustedOpts, src: `FROM registry.example.com/base:1
RUN --mount=type=bind,from=ghcr.io/someone/certs:1,source=/certs,target=/mnt cp /mnt/ca.pem /etc/ssl/
USER 1000
`, want: []want{{finding.Medium, "RUN --mount", "stage 0", []string{"RUN --mount=from=ghcr.io/someone/certs:1 pulls ghcr.io/someone/certs"}}}},
		// Without Docker Hub in the list: a stage name taken for an image
		// would be docker.io/library/<name>, untrusted.
		{name: "trusted images, stage names, scratch and COPY --from a stage", opts: dockerfile.Options{TrustedRegistries: []string{"registry.example.com", "ghcr.io/myorg"}}, src: `FROM registry.example.com/golang:1.23 AS build
RUN --mount=type=cache,target=/root/.cache/go-build go build -o /app .
FROM registry.example.com/base/static:1 AS base
FROM base AS runtime-base
FROM ghcr.io/myorg/sub/tools:2 AS tools
RUN --mount=from=build,source=/app,target=/mnt --mount=from=0,source=/etc,target=/e true
FROM scratch
COPY --from=build /app /app
COPY --from=tools /bin/x /bin/x
COPY --from=0 /etc/passwd /etc/passwd
USER 65532
`},
		{name: "a base named by a build argument without value is not judged", opts: trustedOpts, src: `ARG BASE
FROM ${BASE}
USER 1000
`},
		{name: "no list configured: silent", src: `FROM quay.io/builders/go:1.23
USER 1000
`},
	}
}

func TestTrustedRegistriesInvalid(t *testing.T) {
	_, err := dockerfile.Audit(testFile, []byte("FROM alpine:3.20\n"), dockerfile.Options{TrustedRegistries: []string{"ghcr.io/x:1"}})
	if err == nil {
		t.Fatal("invalid trusted registry: no error")
	}
}
