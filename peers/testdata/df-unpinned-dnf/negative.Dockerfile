# syntax=docker/dockerfile:1
FROM fedora:40
RUN dnf install -y nginx-1.26.2 && dnf clean all
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
