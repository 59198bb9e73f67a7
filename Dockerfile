# The leadgen worker: every actor against RabbitMQ and MongoDB (port 8080: health and metrics).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --user-group leadgen

WORKDIR /src
COPY . .
# Installed as root into the system site-packages; the build leftovers are not needed at runtime.
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

USER leadgen
WORKDIR /home/leadgen

ENV LEADGEN_LOG_FORMAT=json
EXPOSE 8080
CMD ["leadgen", "worker"]
