"""Small shared helpers: atomic files, the machine's hardware, numeric precision."""
