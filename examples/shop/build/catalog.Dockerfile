# catalog's image. MISTAKES: a single stage that ships the Go toolchain and
# a shell, runs as root (no USER), and builds with cgo; the base is a
# moving tag.
FROM golang:1.27
WORKDIR /src
COPY . .
ENV GOFLAGS=-trimpath
RUN go build -o /usr/local/bin/catalog ./cmd/catalog
EXPOSE 8080 9102
ENTRYPOINT ["/usr/local/bin/catalog"]
