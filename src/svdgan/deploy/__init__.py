"""Deployment: ONNX export with a parity check, and the onnxruntime streaming scorer."""
