# One image for the site server's Python services (gateway, api, alerts,
# simulator, mosquitto-init); docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY protocol protocol
COPY timeseries timeseries
COPY broker broker
COPY deploy deploy
COPY gateway gateway
COPY api api
COPY alerts alerts
COPY simulator simulator
COPY firmware firmware
COPY dashboards dashboards
COPY devservers devservers
COPY bench bench
RUN pip install --no-cache-dir . && useradd --system --home /data workshop && mkdir -p /data \
    && chown workshop /data
USER workshop
VOLUME /data
