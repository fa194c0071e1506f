# syntax=docker/dockerfile:1
FROM alpine:3.20.3
COPY web /app/web
EXPOSE 8080
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
