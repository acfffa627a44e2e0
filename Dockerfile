# Build: docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t strangler .
# Run:   docker run -p 8080:8080 -v $PWD/config:/etc/strangler strangler
FROM golang:1.27.3-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
# What `strangler version` prints (.dockerignore keeps .git out of the
# build, so the commit cannot be read from it).
ARG VERSION=dev
RUN go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/ ./cmd/strangler \
      ./legacy-monolith/cmd/legacy-monolith \
      ./extracted-services/cmd/orders ./extracted-services/cmd/payments ./extracted-services/cmd/inventory

# A static binary needs no libc: distroless/static holds CA certificates,
# /etc/passwd with a nonroot user, and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
# The bundled shop apps come along, so that the demo's pieces can run as
# separate containers: docker run --entrypoint /usr/local/bin/legacy-monolith strangler --addr :8401
COPY --from=build /out/ /usr/local/bin/
COPY config/routes.yaml /etc/strangler/routes.yaml
USER nonroot:nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/strangler"]
# The admin listener binds to all interfaces inside the container so that
# Prometheus can scrape it; do not publish port 9090 to the outside world.
CMD ["serve", "--config", "/etc/strangler/routes.yaml", "--listen", ":8080", "--admin", ":9090"]
