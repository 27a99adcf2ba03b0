# The image the nightly run uses as a Kubernetes CronJob (examples/k8s/cronjob.yaml).
FROM python:3.11-slim

LABEL org.opencontainers.image.title="assay" \
      org.opencontainers.image.description="Policy-as-code compliance checks with a verifiable evidence ledger"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY assay/ assay/
COPY checks/ checks/
COPY controls/ controls/
COPY engine/ engine/
COPY evidence/ evidence/
COPY gdpr/ gdpr/
COPY demo/ demo/
COPY examples/ examples/
RUN pip install --no-cache-dir . && rm -rf /src

# Never run as root: the run only reads cloud and cluster APIs and writes to the ledger.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin assay
USER 10001
WORKDIR /home/assay
ENTRYPOINT ["assay"]
CMD ["run"]
