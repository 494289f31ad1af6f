"""The embedded media process (`python -m services.live.media`, started by the launcher next
to live): SRT in with a per-room passphrase, HLS out under <media_dir>/hls/<room_id>/,
repackaged by the wheel's ffmpeg without transcoding. Decisions 0020 and 0023."""
