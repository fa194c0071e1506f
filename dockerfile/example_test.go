package dockerfile_test

import (
	"fmt"
	"log"

	"github.com/wardsec/ward/dockerfile"
)

func Example() {
	const src = `ARG GO_VERSION=1.27
FROM golang:${GO_VERSION} AS build
# The builder may run as root: only the final stage is judged.
USER root
RUN go build -o /out/app .

# ward:ignore dockerfile/no-healthcheck Kubernetes probes check the app
FROM alpine:3.20
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
`
	fs, err := dockerfile.Audit("Dockerfile", []byte(src), dockerfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range fs {
		state := ""
		if f.Suppressed != nil {
			state = " (suppressed: " + f.Suppressed.Reason + ")"
		}
		fmt.Printf("%s %s %s %s%s\n", f.Location(), f.Severity, f.Rule, f.Object, state)
	}
	// Output:
	// Dockerfile:2 info dockerfile/base-not-pinned stage 0 (build)
	// Dockerfile:8 info dockerfile/base-not-pinned stage 1
	// Dockerfile:8 medium dockerfile/final-has-shell stage 1
	// Dockerfile:8 info dockerfile/no-healthcheck stage 1 (suppressed: Kubernetes probes check the app)
	// Dockerfile:8 high dockerfile/user-missing stage 1
}

func ExampleIsDockerfile() {
	for _, name := range []string{"Dockerfile", "deploy/api.Dockerfile", "Dockerfile.dev", "Dockerfile.dockerignore", "compose.yaml"} {
		fmt.Println(name, dockerfile.IsDockerfile(name))
	}
	// Output:
	// Dockerfile true
	// deploy/api.Dockerfile true
	// Dockerfile.dev true
	// Dockerfile.dockerignore false
	// compose.yaml false
}
