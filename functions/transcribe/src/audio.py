"""Decoding uploads with PyAV (FFmpeg inside the wheel): any accepted format to 16 kHz mono float32 samples.

The duration that is billed is ``len(samples) / 16000``, what actually decoded: a truncated file keeps the
part that decodes (its header's duration is ignored); a file where nothing decodes is corrupt.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from .failures import FunctionError

SAMPLE_RATE = 16000
MAX_BAD_PACKETS = 50  # packets that fail to decode before a file counts as damaged beyond use
SILENCE_PEAK = 10 ** (-60 / 20)  # -60 dBFS: quieter than this everywhere is silence, not speech


@dataclass(frozen=True)
class Decoded:
    samples: Any  # numpy float32, mono, SAMPLE_RATE
    bad_packets: int  # packets skipped because they did not decode

    @property
    def seconds(self) -> float:
        return float(len(self.samples)) / SAMPLE_RATE

    @property
    def silent(self) -> bool:
        return bool(len(self.samples) == 0 or float(np.max(np.abs(self.samples))) < SILENCE_PEAK)


def decode(data: bytes) -> Decoded:
    """Decode ``data``; ``FunctionError`` unsupported_file (no audio stream) or corrupt_audio (nothing decodes)."""
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise FunctionError("corrupt_audio", f"the file is not readable audio ({_reason(exc)})") from exc
    try:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise FunctionError("unsupported_file", "the file holds no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[Any] = []
        bad = 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except (av.error.FFmpegError, ValueError) as exc:
                    bad += 1
                    if bad > MAX_BAD_PACKETS:
                        if not chunks:
                            raise FunctionError("corrupt_audio", f"the audio does not decode ({_reason(exc)})") from exc
                        break  # keep what decoded; the rest is damaged
                    continue
                for frame in frames:
                    chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        except (av.error.FFmpegError, ValueError) as exc:  # demuxing stopped: a truncated or damaged container
            if not chunks:
                raise FunctionError("corrupt_audio", f"the audio does not decode ({_reason(exc)})") from exc
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    finally:
        container.close()
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, dtype=np.float32)
    if samples.size == 0:
        raise FunctionError("corrupt_audio", "the file decodes to no audio at all")
    return Decoded(samples, bad)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
