# Ward's image: a static binary on a distroless base, run as non-root.
# Build: docker build -t ward .   Use: docker run --rm -v "$PWD:/src:ro" ward check /src
ARG GO_VERSION=1.27.3

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Static, reproducible build: no cgo, no local paths in the binary.
ENV CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -ldflags="-s -w -X github.com/wardsec/ward/internal/cli.Version=${VERSION}" -o /out/ward ./cmd/ward

# distroless/static: no shell, no package manager, runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ward /ward
USER 65532:65532
# A command-line tool, not a server: the orchestrator runs it to completion.
HEALTHCHECK NONE
ENTRYPOINT ["/ward"]
