# syntax=docker/dockerfile:1
FROM ruby:3.3.5
RUN gem install bundler
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
