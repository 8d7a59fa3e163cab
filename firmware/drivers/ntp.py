# SNTP with the stock ntptime module. It blocks for up to its 1 s socket
# timeout; that happens once an hour and the watchdog allows 30 s.
import ntptime

from firmware.drivers import port


class Ntp:
    async def unix_ms(self, host: str):
        ntptime.host = host
        try:
            seconds = ntptime.time()
        except (OSError, OverflowError, IndexError):
            return None
        return (seconds + port.EPOCH_OFFSET_S) * 1000
