"""Live: events from scores (the one EventTracker), the annotated video, `svdgan detect`."""
