# The ESP32's ADC1 at 11 dB attenuation and what feeds it.
#
# read()/read_u16() are the raw conversion: a dead zone near 0 V, a gain that
# differs from chip to chip (the reference voltage spreads 1000-1200 mV, so
# 5-10 % is common: ESP-IDF "ADC calibration"), an offset, the bend of the
# 11 dB range above ~2.45 V (ESP32 datasheet, ADC characteristics: 150-2450
# mV is the accurate range at 11 dB), and noise: several LSB RMS with Wi-Fi
# on. read_uv() is the port's calibrated reading (esp_adc_cal with the eFuse
# data and the 11 dB correction): gain, offset and bend removed, the noise
# and the saturation at the ends are not.
import math

from .rng import Rng

LSB_V = 0.00075  # 11 dB: ~3.07 V over 4095 codes, nominal
DEAD_V = 0.075  # below this the converter reads 0
KNEE_V = 2.45
BEND = 0.35  # volts lost per volt squared above the knee (shape only)
TOP_V = 3.1  # a calibrated reading never goes above this
FULL_SCALE_V = (0.95, 1.25, 1.75, 0.0)  # 0, 2.5, 6 dB: clipped above; 11 dB: the curve


class EspAdc:
    """signal(t_us) -> volts at the pin. noise_lsb: RMS noise in codes."""

    def __init__(self, signal, noise_lsb: float = 4.0, offset_lsb: float = 0.0,
                 gain_error: float = 0.07, cal_error: float = 0.0, seed: int = 3):
        self.signal = signal
        self.noise_lsb = noise_lsb
        self.offset_lsb = offset_lsb
        self.gain_error = gain_error
        self.cal_error = cal_error
        rng = Rng(seed)
        # A pool of normal deviates drawn once: the simulator reads millions.
        self._noise = [rng.gauss() for _ in range(1024)]
        self._rng = rng

    def attach(self, port, gpio: int) -> None:
        port.adcs[gpio] = self

    def _deviate(self) -> float:
        return self._noise[self._rng.next32() & 1023] * self.noise_lsb

    def raw(self, now_us: int, atten: int) -> int:
        v = self.signal(now_us)
        if atten != 3:
            code = v / FULL_SCALE_V[atten] * 4095
        else:
            if v > KNEE_V:
                d = v - KNEE_V
                v = KNEE_V + d - BEND * d * d
            code = (v - DEAD_V) / LSB_V if v > DEAD_V else 0.0
        code = code * (1 + self.gain_error) + self.offset_lsb + self._deviate()
        code = int(code + 0.5)
        return 0 if code < 0 else (4095 if code > 4095 else code)

    def calibrated_uv(self, now_us: int, atten: int) -> int:
        if atten != 3:
            return self.raw(now_us, atten) * int(FULL_SCALE_V[atten] * 1000000) // 4095
        v = self.signal(now_us) + self._deviate() * LSB_V
        v = DEAD_V if v < DEAD_V else (TOP_V if v > TOP_V else v)
        v = int(v / LSB_V + 0.5) * LSB_V * (1 + self.cal_error)
        return int(v * 1000000)


class ClampSignal:
    """A current transformer with voltage output (SCT-013-030: 1 V at 30 A
    RMS) riding on a mid-rail bias: the voltage at the ADC pin."""

    def __init__(self, amps_at, volts_per_amp: float = 1.0 / 30, bias_v: float = 1.65,
                 mains_hz: float = 50.0):
        self.amps_at = amps_at  # t_us -> RMS current through the clamp
        self.peak_per_amp = volts_per_amp * math.sqrt(2)
        self.bias_v = bias_v
        self.omega = 2 * math.pi * mains_hz / 1000000
        self.cycle_us = int(1000000 / mains_hz)
        self._cycle = -1
        self._peak = 0.0

    def __call__(self, t_us: int) -> float:
        cycle = t_us // self.cycle_us
        if cycle != self._cycle:  # the load changes far slower than a mains cycle
            self._cycle = cycle
            self._peak = self.amps_at(t_us) * self.peak_per_amp
        return self.bias_v + self._peak * math.sin(self.omega * t_us)
