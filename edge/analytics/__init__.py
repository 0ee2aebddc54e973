"""Camera analytics on top of detections: tracks with stable ids (ByteTrack), line crossings and zones."""
