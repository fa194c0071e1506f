# syntax=docker/dockerfile:1
FROM python:3.12.7-slim
COPY app.py /app/
RUN pip install --no-cache-dir flask gunicorn==22.0.0
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
