# syntax=docker/dockerfile:1
FROM alpine:3.20.3
RUN apk add --no-cache ca-certificates=20240705-r0
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
