"""Video sources behind one interface (files, folders, cameras, streams, a synthetic camera), their reader threads."""
