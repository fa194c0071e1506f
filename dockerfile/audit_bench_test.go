package dockerfile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wardsec/ward/dockerfile"
)

// bigDockerfile is a multi-stage build in the style of the official
// images whose final stage has a RUN of a 5,000-line here-document: the
// size at which reading each RUN once per rule showed.
func bigDockerfile() string {
	var b strings.Builder
	b.WriteString(`FROM golang:1.22 AS build
ENV CGO_ENABLED=0
RUN set -eux; go build -trimpath -o /out/app ./cmd/app
FROM debian:12
ENV GOSU_VERSION=1.17 APP_HOME=/srv/app
ARG MODE=0755
RUN set -eux; \
	apt-get update; apt-get install -y --no-install-recommends ca-certificates=20230311 curl=7.88.1-10+deb12u5; \
	curl -fsSL https://example.org/k.asc | gpg --dearmor -o /usr/share/keyrings/k.gpg; \
	rm -rf /var/lib/apt/lists/*
RUN <<EOF
set -eux
`)
	for i := range 1000 {
		fmt.Fprintf(&b, `mkdir -p "$APP_HOME/d%d" && chmod "$MODE" "$APP_HOME/d%d"
curl -fsSLo /tmp/f%d.tgz "https://example.org/f%d.tgz"
echo "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 */tmp/f%d.tgz" | sha256sum -c -
tar -xzf /tmp/f%d.tgz -C "$APP_HOME/d%d" && rm /tmp/f%d.tgz
sh -c 'install -m 0644 /etc/hostname /tmp/h%d'
`, i, i, i, i, i, i, i, i, i)
	}
	b.WriteString(`EOF
COPY --from=build /out/app /usr/local/bin/app
USER 1000
`)
	return b.String()
}

// BenchmarkAuditLargeRun audits bigDockerfile.
func BenchmarkAuditLargeRun(b *testing.B) {
	src := []byte(bigDockerfile())
	for b.Loop() {
		if _, err := dockerfile.Audit("Dockerfile", src, dockerfile.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
