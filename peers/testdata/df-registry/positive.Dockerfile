# syntax=docker/dockerfile:1
FROM quay.io/someone/alpine:3.20.3
RUN mkdir -p /app/data
COPY web /app/web
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
