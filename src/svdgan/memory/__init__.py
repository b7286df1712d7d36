"""The memory of normal motion: optical-flow cells of normal footage, and a frame's distance to them."""
