FROM golang:1.27
RUN go build -o /app .
CMD ["/app"]
