# syntax=docker/dockerfile:1
FROM alpine:3.20.3 AS src
RUN apk add --no-cache git=2.45.3-r0
RUN --mount=type=secret,id=git_password,env=GIT_PASSWORD \
    git clone "https://deploy:${GIT_PASSWORD}@git.example.com/shop/web.git" /src
FROM alpine:3.20.3
COPY --from=src /src/web /app/web
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
