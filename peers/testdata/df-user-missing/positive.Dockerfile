# syntax=docker/dockerfile:1
FROM alpine:3.20.3
COPY web /app/web
HEALTHCHECK CMD ["/app/web", "healthcheck"]
ENTRYPOINT ["/app/web"]
