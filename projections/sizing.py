"""How many messages a projection folds per batch (kept free of imports: `footfall --help` reads it)."""

# Each batch costs two checkpoint writes and one insert per table (a few ms each in chDB), so bigger
# batches fold faster; 5000 frames of 50 tracks are about 30 MB in memory.
DEFAULT_BATCH = 5000
