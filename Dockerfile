# The image the nightly run uses as a Kubernetes CronJob (examples/k8s/cronjob.yaml).
# Built in two stages: the verifier's C extension needs a compiler and OpenSSL's headers,
# which the image that runs assay does not carry.
FROM python:3.11-slim AS build

# Unpinned: the slim image's own Debian release decides, as it does for its libssl.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY assay/ assay/
COPY checks/ checks/
COPY controls/ controls/
COPY engine/ engine/
COPY evidence/ evidence/
COPY gdpr/ gdpr/
COPY demo/ demo/
COPY serve/ serve/
COPY examples/ examples/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

LABEL org.opencontainers.image.title="assay" \
      org.opencontainers.image.description="Policy-as-code compliance checks with a verifiable evidence ledger"

COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels

# Never run as root: the run only reads cloud and cluster APIs and writes to the ledger.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin assay
USER 10001
WORKDIR /home/assay
ENTRYPOINT ["assay"]
CMD ["run"]
