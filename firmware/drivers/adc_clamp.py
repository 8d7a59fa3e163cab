# Current clamp (SCT-013, voltage output, biased at mid-rail) and an optional
# voltage reference (a small AC-AC transformer) on ADC1 at 11 dB. Samples
# are taken at a fixed interval, one mains cycle per call, so the caller can
# yield between cycles. read_uv is the port's calibrated reading (the eFuse
# characterisation of each chip): read_u16 is raw, off by the chip's 5-10 %
# gain error and bent above ~2.45 V.


class ClampAdc:
    volts_per_unit = 0.001  # samples are in millivolts
    mid_units = 1650  # the bias of the clamp's divider, where RMS starts from

    def __init__(self, port, current_pin: int, voltage_pin: int = -1):
        self.port = port
        ADC = port.ADC
        self.i_adc = ADC(port.Pin(current_pin), atten=ADC.ATTN_11DB)
        self.v_adc = ADC(port.Pin(voltage_pin), atten=ADC.ATTN_11DB) if voltage_pin >= 0 else None
        self.has_voltage = self.v_adc is not None

    def read_chunk(self, i_buf, v_buf, n: int, interval_us: int) -> None:
        """Fill n samples (mV) of current, and voltage if fitted."""
        port = self.port
        i_read = self.i_adc.read_uv
        v_read = self.v_adc.read_uv if self.v_adc is not None else None
        t = port.ticks_us()
        for k in range(n):
            i_buf[k] = i_read() // 1000
            if v_read is not None:
                v_buf[k] = v_read() // 1000
            t = port.ticks_add(t, interval_us)
            wait = port.ticks_diff(t, port.ticks_us())
            if wait > 0:
                port.sleep_us(wait)
