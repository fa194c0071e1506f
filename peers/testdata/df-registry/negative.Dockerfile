# syntax=docker/dockerfile:1
FROM registry.example.com/base/alpine:3.20.3 AS base
FROM base
RUN mkdir -p /app/data
COPY --from=base /etc/passwd /etc/passwd
COPY web /app/web
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
