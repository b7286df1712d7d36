"""The live pipeline: frames of many sources scored as they arrive, alarms, annotated video, `svdgan detect`."""
