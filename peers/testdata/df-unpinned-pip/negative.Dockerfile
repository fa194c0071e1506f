# syntax=docker/dockerfile:1
FROM python:3.12.7-slim
COPY requirements.txt app.py /app/
RUN pip install --no-cache-dir --require-hashes -r /app/requirements.txt
HEALTHCHECK CMD ["/app/web", "healthcheck"]
USER 10001:10001
ENTRYPOINT ["/app/web"]
