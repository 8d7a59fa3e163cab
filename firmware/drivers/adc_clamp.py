# Current clamp (SCT-013, voltage output, biased at mid-rail) and an optional
# voltage reference (a small AC-AC transformer) on ADC1. Samples are taken
# at a fixed interval with a busy wait on ticks_us, one mains cycle per call,
# so the caller can yield between cycles.


class ClampAdc:
    def __init__(self, port, current_pin: int, voltage_pin: int = -1):
        self.port = port
        ADC = port.ADC
        self.i_adc = ADC(port.Pin(current_pin), atten=ADC.ATTN_11DB)
        self.v_adc = ADC(port.Pin(voltage_pin), atten=ADC.ATTN_11DB) if voltage_pin >= 0 else None
        self.has_voltage = self.v_adc is not None

    def read_chunk(self, i_buf, v_buf, n: int, interval_us: int) -> None:
        """Fill n samples (12-bit counts) of current, and voltage if fitted."""
        port = self.port
        i_read = self.i_adc.read_u16
        v_read = self.v_adc.read_u16 if self.v_adc is not None else None
        t = port.ticks_us()
        for k in range(n):
            i_buf[k] = i_read() >> 4
            if v_read is not None:
                v_buf[k] = v_read() >> 4
            t = port.ticks_add(t, interval_us)
            wait = port.ticks_diff(t, port.ticks_us())
            if wait > 0:
                port.sleep_us(wait)
