# ruff: noqa: F821 - `include` and `package` are provided by MicroPython's build
# A MicroPython frozen-module manifest: builds an ESP32 image with the node's
# code in flash instead of RAM (about 45 KB of heap back, see docs/firmware.md).
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/workshop-monitor/tools/mpy/manifest.py
# Then deploy only /main.py and /config.json; firmware/ and protocol/ are in
# the image. Paths are relative to this file.
include("$(PORT_DIR)/boards/manifest.py")
package("firmware", base_path="../..")
package("protocol", base_path="../..")
