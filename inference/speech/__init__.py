"""Speech backends (whisper, vosk) and transcript normalisation."""
