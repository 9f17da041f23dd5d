# outwatch: the same install as the README's first command, as a non-root user.
FROM python:3.11-slim

WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY probes ./probes
COPY alerts ./alerts
RUN python3 -m pip install --no-cache-dir . \
 && useradd --system --uid 10001 --home-dir /var/lib/outwatch --create-home outwatch \
 && mkdir -p /etc/outwatch

# Mount your config at /etc/outwatch/config.yaml (web.listen must be "0.0.0.0:9464" inside the
# container) and a volume at /var/lib/outwatch for the database (storage.path).
WORKDIR /var/lib/outwatch
USER outwatch
EXPOSE 9464
VOLUME ["/var/lib/outwatch"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["outwatch"]
CMD ["run", "-c", "/etc/outwatch/config.yaml"]
