# syntax=docker/dockerfile:1
FROM rockylinux:9.3
RUN yum install -y httpd-2.4.57 && yum clean all
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
