"""What moves: objects found by background subtraction on a fixed camera, their attributes, and short tracks."""
