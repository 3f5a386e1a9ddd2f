"""How many messages a projection folds per batch (kept free of imports: `footfall --help` reads it)."""

# Each batch costs two checkpoint writes and one insert per table (a few ms each in chDB, tens of ms when
# ten runners share it), so bigger batches fold faster; 5000 frames of 50 tracks are about 30 MB in memory.
DEFAULT_BATCH = 5000
# Derived events and POS transactions are ~100-200 bytes: four times the messages in a batch is a few MB.
# Measured (`footfall bench zones --hours 4`, every projection): 23.0 s at 5000, 19.9 s at 20000, the
# FF_DERIVED readers' write time 8 s each down to 1 s.
SMALL_MESSAGE_BATCH = 20000
LARGE_MESSAGE_STREAMS = frozenset({"FF_TRACKS"})
BATCH_HELP = f"messages per batch (default: {DEFAULT_BATCH} from FF_TRACKS, {SMALL_MESSAGE_BATCH} from the others)"


def default_batch(stream: str) -> int:
    """Messages per batch for a projection of `stream` when none is asked for."""
    return DEFAULT_BATCH if stream in LARGE_MESSAGE_STREAMS else SMALL_MESSAGE_BATCH
