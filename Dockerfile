# infusion-edge: the edge daemon as a container image.
#
#   docker build -t infusion-edge .
#   docker run --rm -p 127.0.0.1:8080:8080 \
#     -v "$PWD/site.yaml:/etc/infusion-edge/config.yaml:ro" \
#     -e INFUSION_EDGE_MQTT__PASSWORD=... \
#     --device /dev/serial/by-id/usb-FTDI_...:/dev/ttyUSB0 infusion-edge
#
# Two stages: `build` installs the package and its dependencies into a virtual environment
# (the wheel's build needs config/, which pyproject.toml bundles as the demo config and the
# scenarios); the image copies only that environment and the example configs, so no build
# tool and no source tree ships. tests/deploy/test_dockerfile_build.py replays the build
# stage's COPY steps in order and builds the wheel from them, without a container engine.
#
# Runs as the unprivileged user infusion-edge (10001:10001), whose supplementary group dialout may open
# serial adapters passed in with --device (the device keeps the host's group id; Debian's
# dialout is 20 in the host and here, elsewhere add --group-add with the host's id). The
# outbox and the alarm log live in the volume /var/lib/infusion-edge. The config must set
# http.bind: 0.0.0.0 for the dashboard and /metrics to be reached from outside the container.
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY config ./config
COPY drivers ./drivers
COPY edge ./edge
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH

COPY --from=build /opt/venv /opt/venv
# Example configs and the simulators' scenarios (infusion-edge simulate --scenario ...).
WORKDIR /opt/infusion-edge
COPY config ./config

# The user is given by number, so that a runtime checking runAsNonRoot can see it is not root.
RUN groupadd --system --gid 10001 infusion-edge \
    && useradd --system --uid 10001 --gid 10001 --groups dialout \
        --home-dir /var/lib/infusion-edge --no-create-home --shell /usr/sbin/nologin \
        infusion-edge \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/infusion-edge \
    && install -d -m 0755 /etc/infusion-edge

USER 10001:10001
WORKDIR /var/lib/infusion-edge
VOLUME ["/var/lib/infusion-edge"]
EXPOSE 8080

# /healthz answers while the process is up. The port follows INFUSION_EDGE_HTTP__PORT when
# it is set; a config file that changes http.port needs that variable too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INFUSION_EDGE_HTTP__PORT', '8080'), timeout=4)"]

ENTRYPOINT ["infusion-edge"]
CMD ["run", "--config", "/etc/infusion-edge/config.yaml"]
