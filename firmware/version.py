# The firmware version, in a module of its own so that the running node need
# not keep the config validator in RAM.
FW_VERSION = "0.3.0"
