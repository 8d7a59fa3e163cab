# ruff: noqa: F821 - `include` and `package` are provided by MicroPython's build
# A MicroPython frozen-module manifest for the nodes: MicroPython v1.27.0,
# BOARD=ESP32_GENERIC (tools/mpy/build.py MICROPYTHON). The firmware and the
# protocol are compiled into the image, so their bytecode runs from flash
# instead of RAM (docs/firmware.md, Memory). Built with the ESP-IDF of that
# release (hardware/README.md):
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/workshop-monitor/tools/mpy/manifest.py
# Then deploy only /main.py and /config.json. Paths are relative to this file.
# tests/firmware/test_build.py checks that it holds every module the node imports.
include("$(PORT_DIR)/boards/manifest.py")
package("firmware", base_path="../..")
package("protocol", base_path="../..")
