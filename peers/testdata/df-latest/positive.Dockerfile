# syntax=docker/dockerfile:1
FROM alpine:latest
COPY web /app/web
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
