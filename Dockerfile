# syntax=docker/dockerfile:1
# The pdp sidecar image: one static binary on an empty base, run as a
# numeric non-root user. charts/image_test.go builds the same image offline
# (go-containerregistry, no Docker engine) from the final stage below and
# checks it, so keep that stage to FROM/COPY/USER/WORKDIR/LABEL/ENTRYPOINT.
#
#   docker build -t ghcr.io/riskpdp/pdp:dev --build-arg VERSION=dev .

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X github.com/riskpdp/riskpdp/pdp/internal/cli.Version=${VERSION}" \
        -o /out/pdp ./pdp/cmd/pdp

# Nothing but the binary: no shell, no package manager, no passwd file (the
# user is numeric). pdp needs no CA certificates or time zone data today.
FROM scratch
COPY --from=build /out/pdp /pdp
USER 65532:65532
WORKDIR /
LABEL org.opencontainers.image.title="pdp" \
      org.opencontainers.image.description="riskpdp payment-risk policy decision point (sidecar)" \
      org.opencontainers.image.source="https://github.com/riskpdp/riskpdp" \
      org.opencontainers.image.url="https://github.com/riskpdp/riskpdp"
ENTRYPOINT ["/pdp", "serve"]
