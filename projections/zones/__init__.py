"""The zone processor: track frames in, zone, line, visit, queue and occupancy events out (DESIGN.md §2)."""
