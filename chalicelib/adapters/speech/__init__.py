"""The call's live audio: reading Kinesis Video Streams media (and, beside it, speech-to-text)."""
