# syntax=docker/dockerfile:1
FROM golang:1.23.2
RUN go install golang.org/x/tools/cmd/goimports@latest
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
