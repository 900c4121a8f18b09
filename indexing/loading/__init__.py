"""Loading and export: readers, field maps, the loader, the write path, export."""
