# syntax=docker/dockerfile:1
FROM node:22.9.0-alpine
RUN npm install -g pm2@5.4.2
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
