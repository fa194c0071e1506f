package dockerfile

import (
	"testing"

	"github.com/wardsec/ward/internal/cmdsecret"
)

// benchScript is a typical install-and-build RUN, without secrets.
const benchScript = `set -eux; apt-get update && apt-get install -y --no-install-recommends ca-certificates=20240203 curl=8.5.0-2 git=1:2.43.0-1 \
 && curl -fsSL -o /tmp/go.tgz "https://go.dev/dl/go${GO_VERSION}.linux-amd64.tar.gz" \
 && echo "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  /tmp/go.tgz" | sha256sum -c - \
 && tar -C /usr/local -xzf /tmp/go.tgz && rm /tmp/go.tgz \
 && git clone --depth 1 https://github.com/org/repo.git /src && cd /src \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/app ./cmd/app \
 && rm -rf /var/lib/apt/lists/*`

// BenchmarkRunScript compares dockerfile/secret-in-run's reading of a RUN
// (cmdsecret.Script) with dockerfile/unpinned-package's (unpinnedInstalls),
// the baseline: both parse the script with mvdan.cc/sh and walk it.
func BenchmarkRunScript(b *testing.B) {
	b.Run("unpinned-baseline", func(b *testing.B) {
		for b.Loop() {
			unpinnedInstalls(benchScript, nil)
		}
	})
	b.Run("secrets", func(b *testing.B) {
		for b.Loop() {
			if s := cmdsecret.Script(benchScript); len(s) != 0 {
				b.Fatalf("secrets in the benchmark script: %v", s)
			}
		}
	})
}
