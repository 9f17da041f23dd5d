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
COPY deploy/outwatch/healthcheck.py /usr/local/lib/outwatch/healthcheck.py

# Mount your config at /etc/outwatch/config.yaml (web.listen on "0.0.0.0:PORT" inside the
# container; 9464 unless you change it) and a volume at /var/lib/outwatch for the database
# (storage.path). Running it with another `-c FILE`? Set OUTWATCH_CONFIG=FILE as well.
ENV OUTWATCH_CONFIG=/etc/outwatch/config.yaml
WORKDIR /var/lib/outwatch
USER outwatch
EXPOSE 9464
VOLUME ["/var/lib/outwatch"]
# GET /healthz at the config's web.listen, over HTTPS when web.tls is set
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["python3", "/usr/local/lib/outwatch/healthcheck.py"]
ENTRYPOINT ["outwatch"]
CMD ["run", "-c", "/etc/outwatch/config.yaml"]
