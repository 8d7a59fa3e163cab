"""The site's deployment: docker-compose.yml's configuration files (mosquitto/)
and the commands that prepare them: `python -m deploy.bootstrap` turns `.env`
into the files the services need; `python -m deploy.broker_init` runs in the
mosquitto-init service before each start of the broker. Of the project they
use only the ground floor (broker/, protocol/)."""
