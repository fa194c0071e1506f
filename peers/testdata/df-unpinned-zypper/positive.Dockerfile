# syntax=docker/dockerfile:1
FROM opensuse/leap:15.6
RUN zypper --non-interactive install curl
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
