# Fake `network` for the board check under MicroPython.
STA_IF = 0
names = []


class WLAN:
    def __init__(self, interface):
        self.interface = interface
        self.up = False

    def active(self, on=None):
        return True

    def isconnected(self):
        return self.up

    def connect(self, ssid, password):
        self.up = True

    def status(self, what=None):
        return -61


def hostname(name):
    names.append(name)
