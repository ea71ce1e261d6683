# infusion-edge: the edge daemon as a container image.
#
#   docker build -t infusion-edge .
#   docker run --rm -p 127.0.0.1:8080:8080 \
#     -v "$PWD/site.yaml:/etc/infusion-edge/config.yaml:ro" \
#     -e INFUSION_EDGE_MQTT__PASSWORD=... \
#     --device /dev/serial/by-id/usb-FTDI_...:/dev/ttyUSB0 infusion-edge
#
# Runs as the unprivileged user infusion-edge, whose supplementary group dialout may open
# serial adapters passed in with --device (the device keeps the host's group id; Debian's
# dialout is 20 in the host and here, elsewhere add --group-add with the host's id). The
# outbox and the alarm log live in the volume /var/lib/infusion-edge. The config must set
# http.bind: 0.0.0.0 for the dashboard and /metrics to be reached from outside the container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/infusion-edge
COPY pyproject.toml README.md ./
COPY drivers ./drivers
COPY edge ./edge
# The installed package is what runs: the sources go once it is in site-packages.
RUN pip install . && rm -rf drivers edge

# Example configs and the simulators' scenarios (infusion-edge simulate --scenario ...).
COPY config ./config

RUN useradd --system --user-group --uid 10001 --groups dialout \
        --home-dir /var/lib/infusion-edge --no-create-home --shell /usr/sbin/nologin \
        infusion-edge \
    && install -d -o infusion-edge -g infusion-edge -m 0750 /var/lib/infusion-edge \
    && install -d -m 0755 /etc/infusion-edge

USER infusion-edge
WORKDIR /var/lib/infusion-edge
VOLUME ["/var/lib/infusion-edge"]
EXPOSE 8080

# /healthz answers while the process is up. The port follows INFUSION_EDGE_HTTP__PORT when
# it is set; a config file that changes http.port needs that variable too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INFUSION_EDGE_HTTP__PORT', '8080'), timeout=4)"]

ENTRYPOINT ["infusion-edge"]
CMD ["run", "--config", "/etc/infusion-edge/config.yaml"]
