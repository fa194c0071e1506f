# syntax=docker/dockerfile:1
FROM alpine:3.20.3
ENV DB_PASSWORD=Tr0ub4dor-Prod-2024
COPY web /app/web
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
